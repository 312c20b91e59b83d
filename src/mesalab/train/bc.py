"""Behaviour cloning from the BFS oracle: supervised SGD towards shortest-path moves.

The learner acts (with `explore` probability of a random move) and every visited state is
labelled with the oracle's optimal moves towards the base objective's target, so the
data covers the states the learner itself reaches (DAgger-style). Loss: minus the log
of the probability the policy gives to the set of optimal moves. Metrics as PPO's:
`losses/bc_loss`, `charts/episodic_return`, `charts/episodic_length`, `charts/success`, `charts/SPS`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import nn
from tqdm import tqdm

from mesalab.config import Config, check
from mesalab.envs.gridworld.objectives import BASE_OBJECTIVE, OBJECTIVES
from mesalab.envs.gridworld.oracle import moves_towards
from mesalab.envs.gridworld.world import GridWorld
from mesalab.models.policy import ActorCritic
from mesalab.seeding import generator as make_generator
from mesalab.store.metrics import MetricsLogger
from mesalab.train.ppo import TrainResult, _sample


@dataclass(frozen=True)
class BCConfig(Config):
    """Behaviour cloning hyperparameters."""

    total_steps: int = 200_000
    """Environment steps of labelled data to collect (summed over worlds)."""
    num_steps: int = 16
    """Steps per world between updates."""
    learning_rate: float = 2e-2
    """Adam step size (the planner policy has a handful of weights that must move far)."""
    minibatch_size: int = 512
    """Samples per gradient step."""
    update_epochs: int = 2
    """Passes over each batch of collected states."""
    explore: float = 0.1
    """Probability of a uniformly random move while collecting."""
    seed: int = 0
    """Seed of the training generator."""

    def validate(self) -> None:
        check(self.total_steps > 0, "total_steps", f"must be positive, got {self.total_steps}")
        check(self.num_steps > 0, "num_steps", f"must be positive, got {self.num_steps}")
        check(self.learning_rate > 0, "learning_rate", f"must be positive, got {self.learning_rate}")
        check(self.minibatch_size > 0, "minibatch_size", f"must be positive, got {self.minibatch_size}")
        check(0 <= self.explore <= 1, "explore", f"must be in [0, 1], got {self.explore}")


def oracle_labels(world: GridWorld) -> torch.Tensor:
    """`(B, 4)` bool: the moves on a shortest path to the base objective's target."""
    state = world.state
    return moves_towards(state, OBJECTIVES[BASE_OBJECTIVE].targets(state))


def train(
    cfg: BCConfig,
    world: GridWorld,
    policy: ActorCritic,
    logger: MetricsLogger | None = None,
    progress: bool = True,
) -> TrainResult:
    """Clone the oracle into `policy` in place."""
    device = world.device
    gen = make_generator(cfg.seed, "bc", device=device)
    optimizer = torch.optim.Adam(policy.parameters(), lr=cfg.learning_rate)
    per_round = world.batch_size * cfg.num_steps
    rounds = max(cfg.total_steps // per_round, 1)
    obs_store = torch.zeros(
        (cfg.num_steps, world.batch_size, *world.observation_shape), dtype=world.obs.dtype, device=device
    )
    labels = torch.zeros((cfg.num_steps, world.batch_size, 4), dtype=torch.bool, device=device)
    obs = world.reset()
    started = time.perf_counter()
    last: dict[str, float] = {}
    for round_index in tqdm(range(1, rounds + 1), desc="bc", disable=not progress, leave=False):
        tick = time.perf_counter()
        policy.eval()
        successes = episodes = lengths = 0.0
        for step in range(cfg.num_steps):
            obs_store[step] = obs
            labels[step] = oracle_labels(world)
            with torch.no_grad():
                action = _sample(policy(obs), gen)
            random_move = torch.randint(0, 4, action.shape, generator=gen, device=device)
            explore = torch.rand(action.shape, generator=gen, device=device) < cfg.explore
            obs, reward, terminated, truncated, info = world.step(torch.where(explore, random_move, action))
            done = terminated | truncated
            successes += float(reward.sum())  # paid only on reaching the exit, which ends the episode
            episodes += float(done.sum())
            lengths += float((info["steps"] * done).sum())
        policy.train()
        flat_obs = obs_store.flatten(0, 1)
        flat_labels = labels.flatten(0, 1)
        for _ in range(cfg.update_epochs):
            order = torch.randperm(per_round, generator=gen, device=device)
            for begin in range(0, per_round, cfg.minibatch_size):
                mb = order[begin : begin + cfg.minibatch_size]
                log_probs = torch.log_softmax(policy(flat_obs[mb]), -1)
                good = log_probs.masked_fill(~flat_labels[mb], float("-inf")).logsumexp(-1)
                loss = -good.mean()
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
                optimizer.step()
        last = {
            "losses/bc_loss": float(loss.detach()),
            "charts/episodic_return": successes / max(episodes, 1.0),
            "charts/episodic_length": lengths / max(episodes, 1.0),
            "charts/success": successes / max(episodes, 1.0),
            "charts/SPS": per_round / (time.perf_counter() - tick),
        }
        if logger is not None:
            logger.log(round_index * per_round, last)
    policy.eval()
    return TrainResult(steps=rounds * per_round, seconds=time.perf_counter() - started, final_metrics=last)
