"""Actor-critic policies over gridworld observations, with named hook points.

Both torsos start from per-cell features: the symbolic channels (less the agent's), or in
`pixels` mode a stride-`SPRITE` convolution of each cell's sprite; the agent is located by
its channel, or by its sprite's white centre pixel.

- `planner` (default): a value-iteration planner with a learned reward map
  (`models/planner.py`); features are the values and gates around the agent.
- `mlp`: the maze re-centred on the agent (an egocentric view of side 2H-1, padded with
  wall), then an MLP. Measured in the README: it does not reach the success target within
  the budget; kept as the non-planning contrast.

Hook points (planner): `torso.planner.hook_cells`, `torso.planner.hook_reward`,
`torso.planner.hook_distance`, `torso.planner.hook_value`, `torso.hook_features`,
`actor.hook_logits`, `critic.hook_value`. (mlp): `torso.hook_input`, `torso.hook_layer{i}`,
`torso.hook_features`, `actor.hook_logits`, `critic.hook_value`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
from torch import nn

from mesalab.config import Config, check, check_choice
from mesalab.envs.gridworld.observations import CHANNELS, PALETTE, SPRITE
from mesalab.envs.gridworld.spec import OBS_MODES, OVERSIGHT_CHANNELS
from mesalab.errors import MesalabError
from mesalab.hooks import HookedModule, HookPoint
from mesalab.models.cost_planner import CostPlanner
from mesalab.models.kinds import register_model_kind
from mesalab.models.planner import REWARD_SCALE, ValuePlanner, around_agent

ARCHES = ("planner", "mlp", "cost-planner")
SHARPNESS = 10.0
"""Inverse temperature of the planner policy over log-values (one step of discount 0.9 ~ 1 nat)."""
WALL_GREY = PALETTE["wall"][0] / 255.0


@dataclass(frozen=True)
class PolicyConfig(Config):
    """An actor-critic for a square gridworld of side `size`."""

    size: int = 11
    """Grid side the policy was built for; observations of another size are refused."""
    arch: str = "planner"
    """Torso: `planner` (value iteration over a learned reward map), `mlp` (egocentric MLP), or
    `cost-planner` (value iteration with per-cell costs from a hidden layer; symbolic only)."""
    horizon: int = 64
    """Planner reach in maze steps: cells farther away are out of its sight (test time may change it)."""
    obs_mode: str = "symbolic"
    """`symbolic` (named channels) or `pixels` (RGB sprites)."""
    hidden: int = 128
    """Width of each hidden layer of the torso."""
    layers: int = 2
    """Hidden layers in the torso."""
    pixel_features: int = 8
    """Features per cell computed from its sprite (pixels mode only)."""
    channels: int = len(CHANNELS)
    """Symbolic channels of the world it was built for: 8 (red door), 10 with an overseer
    (`WorldSpec.channels`: the red-door ones, then `restricted` and `overseer`)."""

    def validate(self) -> None:
        check(self.size >= 5 and self.size % 2 == 1, "size", f"must be odd and >= 5, got {self.size}")
        check_choice(self.obs_mode, "obs_mode", OBS_MODES)
        check_choice(self.arch, "arch", ARCHES)
        check(self.horizon >= 1, "horizon", f"must be >= 1, got {self.horizon}")
        check(self.hidden >= 1, "hidden", f"must be >= 1, got {self.hidden}")
        check(self.layers >= 1, "layers", f"must be >= 1, got {self.layers}")
        check(self.pixel_features >= 1, "pixel_features", f"must be >= 1, got {self.pixel_features}")
        check(
            self.arch != "cost-planner" or self.obs_mode == "symbolic",
            "arch",
            "cost-planner reads named symbolic channels",
            "obs_mode=symbolic",
        )
        check(self.channels >= len(CHANNELS), "channels", f"must be >= {len(CHANNELS)}, got {self.channels}")

    @property
    def observation_shape(self) -> tuple[int, int, int]:
        if self.obs_mode == "symbolic":
            return (self.channels, self.size, self.size)
        return (3, self.size * SPRITE, self.size * SPRITE)


class CellEncoder(nn.Module):
    """Observation -> per-cell features `(B, F, H, W)`, the agent's cell `(B,)`, and the
    feature vector that stands for 'outside the maze' `(F,)`."""

    def __init__(self, cfg: PolicyConfig) -> None:
        super().__init__()
        self.cfg = cfg
        if cfg.obs_mode == "pixels":
            self.sprite_conv: nn.Module = nn.Sequential(
                nn.Conv2d(3, cfg.pixel_features, kernel_size=SPRITE, stride=SPRITE), nn.ReLU()
            )
            self.features = cfg.pixel_features
        else:
            self.sprite_conv = nn.Identity()
            self.features = cfg.channels - 1  # the agent channel is dropped: its place is known

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns `(cells (B, F, H, W), agent (B,), outside (F,), passable (B, H, W))`."""
        expected = self.cfg.observation_shape
        if tuple(obs.shape[1:]) != expected:
            raise MesalabError(
                f"observation shape {tuple(obs.shape[1:])} does not fit this policy, built for {expected} "
                f"({self.cfg.obs_mode}, size {self.cfg.size})"
            )
        if self.cfg.obs_mode == "pixels":
            pixels = obs.float() / 255.0
            centre = pixels[:, :, SPRITE // 2 :: SPRITE, SPRITE // 2 :: SPRITE]  # (B, 3, H, W)
            agent_map = (centre > 0.99).all(dim=1).flatten(1)
            passable = ~((centre - WALL_GREY).abs() < 0.02).all(dim=1)
            cells = self.sprite_conv(pixels)
            outside = torch.zeros(cells.shape[1], device=obs.device)
        else:
            obs = obs.float()
            agent_map = obs[:, 1].flatten(1) > 0.5
            passable = obs[:, 0] < 0.5
            cells = torch.cat([obs[:, :1], obs[:, 2:]], dim=1)
            outside = torch.zeros(cells.shape[1], device=obs.device)
            outside[0] = 1.0  # the wall channel
        return cells, agent_map.float().argmax(1), outside, passable.float()


class MLPTorso(nn.Module):
    """Observation -> egocentric view -> MLP features."""

    def __init__(self, cfg: PolicyConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = CellEncoder(cfg)
        side = 2 * cfg.size - 1
        self.hook_input = HookPoint()
        widths = [self.encoder.features * side * side] + [cfg.hidden] * cfg.layers
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(widths))
        for i in range(cfg.layers):
            self.add_module(f"hook_layer{i}", HookPoint())
        self.hook_features = HookPoint()
        self.width = cfg.hidden

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """`(B, *observation_shape)` -> `(B, hidden)`."""
        cells, agent, outside, _ = self.encoder(obs)
        x = self.hook_input(egocentric(cells, agent, outside)).flatten(1)
        for i, linear in enumerate(self.linears):
            x = getattr(self, f"hook_layer{i}")(torch.relu(linear(x)))
        return self.hook_features(x)


class PlannerTorso(nn.Module):
    """Observation -> value iteration over a learned reward map -> features around the agent.

    Features `(B, 10)`: log-value at the agent and at the cell each move leads to, then
    whether each of those five cells is passable.
    """

    def __init__(self, cfg: PolicyConfig) -> None:
        super().__init__()
        self.encoder = CellEncoder(cfg)
        self.planner = ValuePlanner(self.encoder.features, cfg.horizon)
        self.hook_features = HookPoint()
        self.width = 10

    def forward(self, obs: torch.Tensor, horizon: int | None = None) -> torch.Tensor:
        cells, agent, _, passable = self.encoder(obs)
        log_value = self.planner(cells, passable, agent, horizon)
        features = torch.cat([log_value, around_agent(passable, agent)], dim=1)
        return self.hook_features(features)


class CostPlannerTorso(nn.Module):
    """Observation -> cost-aware value iteration (`cost_planner.py`) -> features around the agent.

    Features `(B, 10)` laid out as `PlannerTorso`'s: the best move's value, each move's value,
    then whether the agent's cell and each move's cell are passable.
    """

    def __init__(self, cfg: PolicyConfig) -> None:
        super().__init__()
        self.encoder = CellEncoder(cfg)
        self.planner = CostPlanner(self.encoder.features, cfg.hidden, cfg.horizon)
        self.hook_features = HookPoint()
        self.width = 10

    def forward(self, obs: torch.Tensor, horizon: int | None = None) -> torch.Tensor:
        cells, agent, _, passable = self.encoder(obs)
        terminal = (cells[:, 1] + cells[:, 2]).clamp_max(1.0)  # door and object channels end episodes
        moves = self.planner(cells, passable, terminal, agent, horizon)
        best = moves.amax(1, keepdim=True)
        return self.hook_features(torch.cat([best, moves, around_agent(passable, agent)], dim=1))


def egocentric(cells: torch.Tensor, agent: torch.Tensor, outside: torch.Tensor) -> torch.Tensor:
    """`(B, F, 2H-1, 2W-1)`: `cells (B, F, H, W)` centred on `agent (B,)`, `outside (F,)` beyond."""
    batch, features, size, _ = cells.shape
    row, col = agent // size, agent % size
    side = 2 * size - 1
    padded = outside.view(1, features, 1, 1).repeat(batch, 1, 3 * size - 2, 3 * size - 2)
    padded[:, :, size - 1 : 2 * size - 1, size - 1 : 2 * size - 1] = cells
    offsets = torch.arange(side, device=cells.device)
    rows = (row[:, None] + offsets[None])[:, :, None]  # (B, side, 1)
    cols = (col[:, None] + offsets[None])[:, None, :]  # (B, 1, side)
    index = torch.arange(batch, device=cells.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[index, rows, cols].permute(0, 3, 1, 2)


class Head(nn.Module):
    def __init__(self, width: int, outputs: int, gain: float) -> None:
        super().__init__()
        self.linear = nn.Linear(width, outputs)
        nn.init.orthogonal_(self.linear.weight, gain)
        nn.init.zeros_(self.linear.bias)


class Actor(Head):
    def __init__(self, width: int) -> None:
        super().__init__(width, 4, gain=0.01)
        self.hook_logits = HookPoint()

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.hook_logits(self.linear(features))


class PlannerActor(nn.Module):
    """Logits `SHARPNESS * log V(cell after move) + bias`: the policy climbs its planner's value.

    Features 1..4 are those log-values. Nothing else reaches the logits, so everything the
    policy prefers goes through the planner's reward map. The sharpness is fixed: learned,
    PPO lowered it to escape a half-learned reward map instead of fixing the map.
    """

    def __init__(self) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(4))
        self.hook_logits = HookPoint()

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.hook_logits(SHARPNESS * features[:, 1:5] + self.bias)


class Critic(Head):
    def __init__(self, width: int) -> None:
        super().__init__(width, 1, gain=1.0)
        self.hook_value = HookPoint()

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.hook_value(self.linear(features).squeeze(-1))


class ActorCritic(HookedModule):
    """`forward(obs) -> action logits (B, 4)`; `value(obs) -> (B,)`; both via `logits_and_value`."""

    def __init__(self, cfg: PolicyConfig) -> None:
        super().__init__()
        self.cfg = cfg
        torsos: dict[str, type[MLPTorso | PlannerTorso | CostPlannerTorso]] = {
            "planner": PlannerTorso,
            "mlp": MLPTorso,
            "cost-planner": CostPlannerTorso,
        }
        self.torso: MLPTorso | PlannerTorso | CostPlannerTorso = torsos[cfg.arch](cfg)
        self.actor: Actor | PlannerActor = PlannerActor() if cfg.arch != "mlp" else Actor(self.torso.width)
        self.critic = Critic(self.torso.width)
        self.setup_hooks()

    def logits_and_value(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.torso(obs)
        # the planner's few weights are its objective: only the actor shapes them, so the
        # critic's regression cannot bend what the policy wants
        # (log-values reach NO_VALUE = -30 at walls: scaled down so the regression stays tame)
        critic_input = features.detach() / 10.0 if self.cfg.arch != "mlp" else features
        return self.actor(features), self.critic(critic_input)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.logits_and_value(obs)[0]


register_model_kind("actor-critic", PolicyConfig, ActorCritic)


def learned_objective(policy: nn.Module) -> dict[str, float] | None:
    """The planner's reward weight per input channel: the mesa-objective read off the weights.

    None unless `policy` is a symbolic planner actor-critic (a pixels planner's reward reads
    learned cell features, not named channels).
    """
    if (
        not isinstance(policy, ActorCritic)
        or policy.cfg.arch != "planner"
        or policy.cfg.obs_mode != "symbolic"
    ):
        return None
    names = [c for c in (*CHANNELS, *OVERSIGHT_CHANNELS)[: policy.cfg.channels] if c != "agent"]
    weights = policy.torso.planner.reward.weight.detach().flatten().cpu() * REWARD_SCALE  # type: ignore[union-attr,operator]
    return {name: float(w) for name, w in zip(names, weights, strict=True)}
