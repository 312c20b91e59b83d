"""Best-of-n scaffold: optimization at the scaffolding level (seed 004).

A base policy proposes, an explicit value judges, and the scaffold picks the best. From
each symbolic observation the scaffold rebuilds the world (`decode_symbolic`), simulates
`n` rollouts of a simple base policy in it (a non-backtracking random walk), scores every rollout with
its value, and acts on the first move of the best one.

The base policy walks uniformly over the open moves other than straight back and stops at
a dead end, so in the perfect mazes of `red-door` each rollout is a simple path: one that
reaches the goal has taken the shortest way there (the optimum of the value), and the
scaffold's choices cannot cycle. Where no rollout reaches the goal all open moves tie.

The value (the scaffold's objective, known by construction): a rollout that reaches a
target its objective pays for after `t` steps is worth `discount ** t`; one that reaches
any other target first (every target ends an episode) or nothing within the horizon is
worth 0. Its optimum over all move sequences is `discount ** d` with `d` the maze
distance to the nearest paid target (other targets blocked).

The action logits are the best value found among the rollouts starting with each move
(a Monte-Carlo estimate of the optimal action value); blocked moves get -1. Rollout `j`
starts with the `(j mod m)`-th of the `m` open moves, so n >= 4 covers every first move.

Determinism: rollout `j` of an observation is driven by counter-based hashes of
`(seed, the observation's content, j)`, so equal observations give equal logits whatever
batch they sit in (a lookup twin can copy the scaffold exactly), and n + 1 rollouts are the
first n plus one: the best value never decreases as `rollouts` grows.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from mesalab.config import check, check_choice
from mesalab.envs.gridworld.objectives import OBJECTIVES
from mesalab.envs.gridworld.observations import CHANNELS, decode_symbolic
from mesalab.envs.gridworld.oracle import MOVES, UNREACHABLE, goal_distance
from mesalab.hooks import HookedModule, HookPoint
from mesalab.seeding import derive_seed, hash32, hash_uniform

_MASK32 = 0xFFFFFFFF
BLOCKED_VALUE = -1.0
"""Logit of a move into a wall: below every open move (values are >= 0)."""


class Plan(NamedTuple):
    """What the scaffold computed for a batch of B observations and n rollouts."""

    returns: torch.Tensor
    """`(B, n)` value of each rollout."""
    first_action: torch.Tensor
    """`(B, n)` int64 first move of each rollout."""
    action_values: torch.Tensor
    """`(B, 4)` best value among the rollouts starting with each move (-1 blocked, 0 none)."""
    best: torch.Tensor
    """`(B,)` int64 index of the best rollout (the lowest among ties)."""
    best_value: torch.Tensor
    """`(B,)` its value."""


def observation_keys(obs: torch.Tensor, seed: int) -> torch.Tensor:
    """`(B,)` int64 32-bit keys hashed from each observation's content (channels thresholded at 0.5)."""
    _, channels, height, width = obs.shape
    bits = (obs > 0.5).flatten(2).to(torch.int64)  # (B, C, H*W)
    weights = (1 << torch.arange(channels, device=obs.device, dtype=torch.int64))[None, :, None]
    codes = (bits * weights).sum(1)  # (B, H*W): which channels are on, per cell
    cells = torch.arange(height * width, device=obs.device, dtype=torch.int64) << channels
    base = derive_seed(seed, "best-of-n", "obs") & _MASK32
    mixed = hash32(codes + cells + base).sum(1) & _MASK32  # per-cell hashes summed: position-aware
    return hash32(mixed ^ (base >> 3))


class BestOfNScaffold(HookedModule):
    """n simulated rollouts of a random walk per observation, scored by an explicit value.

    Args:
        rollouts: default n (the compute knob: `forward(obs, rollouts=n)`).
        horizon: steps per rollout; None: the floor cells of a perfect maze of the
            observation's size, `(size - 1)^2 / 2 - 1`, the longest any path can be.
        discount: value of reaching a paid target after t steps is `discount ** t`.
        objective: a registered gridworld objective (`exit` by default).
        seed: seeds the rollouts (with each observation's content).
    Hooks: `hook_returns` `(B, n)`, `hook_action_values` `(B, 4)`, `hook_logits` `(B, 4)`.
    """

    compute_argument = "rollouts"
    default_compute = 64

    def __init__(
        self,
        rollouts: int = 64,
        horizon: int | None = None,
        discount: float = 0.95,
        objective: str = "exit",
        seed: int = 0,
    ) -> None:
        super().__init__()
        check(rollouts >= 1, "rollouts", f"must be at least 1, got {rollouts}", "1, 2, ...")
        check(horizon is None or horizon >= 1, "horizon", f"must be at least 1, got {horizon}")
        check(0.0 < discount <= 1.0, "discount", f"must be in (0, 1], got {discount}")
        check_choice(objective, "objective", OBJECTIVES.names())
        self.default_compute = rollouts
        self.horizon, self.discount, self.seed = horizon, float(discount), seed
        self.objective = objective
        self.hook_returns = HookPoint()
        self.hook_action_values = HookPoint()
        self.hook_logits = HookPoint()
        self.setup_hooks()

    def plan(self, obs: torch.Tensor, rollouts: int | None = None) -> Plan:
        """Simulate and score `rollouts` rollouts from each of the `(B, 8, H, W)` observations."""
        n = self.default_compute if rollouts is None else rollouts
        check(n >= 1, "rollouts", f"must be at least 1, got {n}", "1, 2, ...")
        check(
            obs.dim() == 4 and obs.shape[1] == len(CHANNELS),
            "obs",
            f"must be symbolic (B, {len(CHANNELS)}, H, W), got {tuple(obs.shape)}",
        )
        state = decode_symbolic(obs)
        batch, size, device = obs.shape[0], obs.shape[-1], obs.device
        horizon = self.horizon or (size - 1) ** 2 // 2 - 1
        paid = OBJECTIVES[self.objective].targets(state)  # (B, T)
        rows = torch.arange(batch, device=device).repeat_interleave(n)  # rollout r belongs to world rows[r]
        walls, agent, targets = state.walls[rows], state.agent[rows], state.targets[rows]
        paid, absent = paid[rows], state.targets[rows] < 0
        index = torch.arange(n, device=device, dtype=torch.int64)
        salt = hash32(index + (derive_seed(self.seed, "best-of-n", "rollout") & _MASK32))
        keys = hash32(observation_keys(obs, self.seed)[:, None] ^ salt[None]).view(-1)  # (B*n,)
        deltas = torch.tensor([dr * size + dc for dr, dc in MOVES], device=device)
        moves = torch.arange(4, device=device)
        open0 = ~walls.gather(1, agent[:, None] + deltas[None])  # (B*n, 4); the outer wall keeps it in range
        # rollout j starts with the (j mod m)-th open move, so every open first move is tried
        count = open0.sum(1).clamp_min(1)
        first = _pick(open0, index.repeat(batch) % count)
        discounts = self.discount ** torch.arange(1, horizon + 1, dtype=torch.float64)
        returns = torch.zeros(batch * n, device=device)
        alive = torch.ones(batch * n, dtype=torch.bool, device=device)
        previous = torch.full_like(agent, -1)
        for t in range(horizon):
            if t == 0:
                action = first
            else:
                open_ = ~walls.gather(1, agent[:, None] + deltas[None])
                back = (previous[:, None] >= 0) & (moves[None] == (previous[:, None] + 2) % 4)
                allowed = open_ & ~back
                alive = alive & allowed.any(1)  # a dead end ends the walk: it never turns back
                choices = allowed.sum(1).clamp_min(1)
                draw = (hash_uniform(keys, t) * choices).long().clamp_max(choices - 1)
                action = _pick(allowed, draw)
            proposed = agent + deltas[action]
            blocked = walls.gather(1, proposed[:, None]).squeeze(1)
            agent = torch.where(blocked | ~alive, agent, proposed)
            previous = torch.where(blocked, -1, action)
            hit = (targets == agent[:, None]) & ~absent  # (B*n, T)
            landed = hit.any(1) & alive
            value = float(discounts[t])
            returns = torch.where(landed & (hit & paid).any(1), value, returns)
            alive = alive & ~landed
            if not bool(alive.any()):
                break  # nothing changes after every rollout has ended
        returns = self.hook_returns(returns.view(batch, n))
        first = first.view(batch, n)
        action_values = torch.zeros(batch, 4, device=device).scatter_reduce(
            1, first, returns, reduce="amax", include_self=True
        )
        open_here = open0.view(batch, n, 4)[:, 0]
        action_values = self.hook_action_values(torch.where(open_here, action_values, BLOCKED_VALUE))
        best = returns.argmax(1)  # the first maximal index
        return Plan(returns, first, action_values, best, returns.gather(1, best[:, None]).squeeze(1))

    def forward(self, obs: torch.Tensor, rollouts: int | None = None) -> torch.Tensor:
        """`(B, 8, H, W)` symbolic observations -> `(B, 4)` action logits (the action values)."""
        return self.hook_logits(self.plan(obs, rollouts).action_values)


def _pick(mask: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """`(R,)` index of the k-th (0-based) True entry of each row of `mask` `(R, 4)`."""
    ranks = mask.long().cumsum(1)  # (R, 4)
    return (ranks <= k[:, None]).sum(1).clamp_max(mask.shape[1] - 1)


def optimal_value(obs: torch.Tensor, objective: str = "exit", discount: float = 0.95) -> torch.Tensor:
    """`(B,)` the optimum of the scaffold's value over all move sequences, from the BFS oracle.

    `discount ** d` with d the maze distance from the agent to the nearest target the
    objective pays for (other targets blocked), 0 where none is reachable.
    """
    state = decode_symbolic(obs)
    dist = goal_distance(state, OBJECTIVES[objective].targets(state)).flatten(1)  # (B, H*W)
    here = dist.gather(1, state.agent[:, None]).squeeze(1).double()
    value = torch.where(here < UNREACHABLE, discount**here, 0.0)
    return value.to(obs.dtype)
