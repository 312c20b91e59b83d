"""A generic weight-tied recurrent conv net for mazes: it thinks longer by iterating longer.

Nothing in it is a search written by hand: one set of convolutions is applied T times
to a hidden state `h` `(B, C, H, W)`, with the maze fed back at every iteration ("recall",
Bansal et al. 2022) and a GRU-style gate that keeps `h` in [-1, 1] however long it runs:

    z, r = sigmoid(U_zr * h + W_zr * x)          (update and reset gates, per cell and channel)
    n    = tanh(U_n * (r h) + W_n * x)           (the candidate state)
    h    = (1 - z) h + z n

`U_zr` is 3x3 by default; with `gate_kernel=1` it is 1x1, so news crosses one cell an iteration
(the state after t iterations sees the maze t cells around, the pace of a breadth-first wave)
instead of up to two (through r, then `U_n`). `think-longer` trains with 1x1 gates.
With `gate_sees_candidate`, z also reads the candidate through a 1x1 conv,
`z = sigmoid(U_z h + V_z n + W_z x)`: a 1x1 gate on the cell's own state cannot open a settled
cell when its neighbours' news changes, a gate that sees `n` can, at the same one-cell pace.
With `cell_hidden=k`, the candidate passes through a per-cell hidden layer of k channels,
`n = tanh(V relu(U_n * (r h) + W_n * x))` with V 1x1 (the local rule of a neural cellular
automaton, Mordvintsev et al. 2020): a richer rule per cell at the same one-cell pace
(`think-longer` uses k = 48).

`x` is the maze without the agent (walls, door, objects, colours), so the map is a function
of the maze alone: computed once per episode, read at the agent's cell at every step. The
heads read `h` after the last iteration: a 3x3 conv gives 4 move logits per cell (in the
world's action order: up, right, down, left) and, optionally, a 1x1 conv a per-cell value
in [0, 1] (trained towards `gamma ** distance to the exit`). T is a call argument.

Hooks (t < `hooked_iterations`): `iters.{t}.hook_hidden` `(B, C, H, W)`, `iters.{t}.hook_state`
(the value map `(B, H, W)`, zeros without a value head) and `iters.{t}.hook_logits`
`(B, 4, H, W)`; then `hook_logits` and `hook_value` at the end. The per-iteration heads are
computed only when a hook listens to them, so an unhooked pass pays for the state alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from mesalab.config import Config, check
from mesalab.envs.gridworld.observations import CHANNELS
from mesalab.errors import MesalabError
from mesalab.hooks import HookedModule, HookPoint
from mesalab.models.kinds import register_model_kind, register_policy_view

MAZE_CHANNELS: tuple[str, ...] = tuple(c for c in CHANNELS if c != "agent")
"""Input channels of the net: the symbolic observation without the agent's."""
AGENT = CHANNELS.index("agent")


@dataclass(frozen=True)
class RecurrentConfig(Config):
    """A weight-tied gated recurrent conv net over mazes of any size."""

    ADDED_FIELDS = ("gate_kernel", "gate_sees_candidate", "cell_hidden")
    """Left out of the hash at their defaults (`Config.ADDED_FIELDS`): older models keep theirs."""

    width: int = 24
    """Channels of the hidden state (the probe on this machine: 16 reached 41x41 at 73%, 24 at 98%)."""
    in_channels: int = len(MAZE_CHANNELS)
    """Input channels: the maze's symbolic channels less the agent's (7 for the gridworld)."""
    value_head: bool = True
    """Whether a 1x1 head reads a per-cell value in [0, 1] (`iters.{t}.hook_state`) from the state."""
    hooked_iterations: int = 256
    """Iterations that carry hook points; further ones run the same step unhooked."""
    default_iterations: int = 30
    """T when a call gives none (the zoo's `default_compute`)."""
    gate_kernel: int = 3
    """Kernel of the state's convolution into the gates z and r: 3 lets news cross two cells an
    iteration (through r, then the candidate), 1 holds it to one, the pace of a breadth-first
    wave (`think-longer` uses 1)."""
    gate_sees_candidate: bool = False
    """Whether the update gate z also reads the candidate n (a 1x1 conv, computed after n): with
    1x1 gates z otherwise sees only the cell's own state, so news from the neighbours cannot
    reopen a cell that has settled; n sees one cell around, so the pace stays one cell an
    iteration."""
    cell_hidden: int = 0
    """Channels of a per-cell hidden layer inside the candidate (0: none, `n = tanh(U_n * (r h) +
    W_n * x)`); with k > 0 the 3x3 sums go to k channels, a ReLU, then a 1x1 conv back to `width`
    before the tanh, so each cell's rule is a small MLP of what it sees (the pace is unchanged)."""

    def validate(self) -> None:
        check(self.width >= 1, "width", f"must be >= 1, got {self.width}")
        check(self.gate_kernel in (1, 3), "gate_kernel", f"must be 1 or 3, got {self.gate_kernel}", "1, 3")
        check(self.cell_hidden >= 0, "cell_hidden", f"must be >= 0 (0: none), got {self.cell_hidden}")
        check(self.in_channels >= 1, "in_channels", f"must be >= 1, got {self.in_channels}")
        check(self.hooked_iterations >= 0, "hooked_iterations", f"must be >= 0, got {self.hooked_iterations}")
        check(
            self.default_iterations >= 1,
            "default_iterations",
            f"must be >= 1, got {self.default_iterations}",
        )


class _Iteration(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.hook_hidden = HookPoint()
        self.hook_state = HookPoint()
        self.hook_logits = HookPoint()


class RecurrentMazeNet(HookedModule):
    """`forward(maze (B, in_channels, H, W), iterations=T) -> move logits (B, 4, H, W)`."""

    compute_argument = "iterations"
    """The zoo's test-time compute protocol: `forward(..., iterations=n)` thinks n steps."""

    def __init__(self, cfg: RecurrentConfig) -> None:
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        pre = cfg.cell_hidden or w  # channels of the candidate's 3x3 sums
        self.inject = nn.Conv2d(cfg.in_channels, 2 * w + pre, 3, padding=1)  # x's part of z, r and n
        gate, pad = cfg.gate_kernel, cfg.gate_kernel // 2
        self.gates = nn.Conv2d(w, 2 * w, gate, padding=pad, bias=False)  # h's part of z and r
        self.candidate = nn.Conv2d(w, pre, 3, padding=1, bias=False)  # (r h)'s part of n
        self.cell = nn.Conv2d(pre, w, 1) if cfg.cell_hidden else None  # the per-cell hidden layer's output
        self.gate_candidate = (
            nn.Conv2d(w, w, 1, bias=False) if cfg.gate_sees_candidate else None
        )  # n's part of z
        self.policy_head = nn.Conv2d(w, 4, 3, padding=1)
        self.value_conv = nn.Conv2d(w, 1, 1) if cfg.value_head else None
        self.iterates = [_Iteration() for _ in range(cfg.hooked_iterations)]  # typed view of `iters`
        self.iters = nn.ModuleList(self.iterates)
        self.hook_logits = HookPoint()
        self.hook_value = HookPoint()
        self.setup_hooks()

    @property
    def default_compute(self) -> int:
        return self.cfg.default_iterations

    # ---- the recurrence ------------------------------------------------------------
    def encode(self, maze: torch.Tensor) -> torch.Tensor:
        """`(B, in_channels, H, W)` -> the input's part of the gates `(B, 2C + pre, H, W)`, computed
        once (`pre`: `cell_hidden`, or C without the hidden layer)."""
        if maze.dim() != 4 or maze.shape[1] != self.cfg.in_channels or maze.shape[2] != maze.shape[3]:
            raise MesalabError(
                f"maze shape {tuple(maze.shape)}: expected (B, {self.cfg.in_channels}, H, H), "
                f"the symbolic channels {', '.join(MAZE_CHANNELS)}"
            )
        return self.inject(maze.float())

    def initial_state(self, injected: torch.Tensor) -> torch.Tensor:
        """The state before the first iteration: zeros `(B, C, H, W)`."""
        return injected.new_zeros(injected.shape[0], self.cfg.width, *injected.shape[2:])

    def step(self, hidden: torch.Tensor, injected: torch.Tensor) -> torch.Tensor:
        """One iteration of the gated update; the result stays in [-1, 1]."""
        w = self.cfg.width
        z_in, r_in = (self.gates(hidden) + injected[:, : 2 * w]).chunk(2, dim=1)
        pre = self.candidate(torch.sigmoid(r_in) * hidden) + injected[:, 2 * w :]
        candidate = torch.tanh(pre if self.cell is None else self.cell(torch.relu(pre)))
        if self.gate_candidate is not None:
            z_in = z_in + self.gate_candidate(candidate)
        return hidden + torch.sigmoid(z_in) * (candidate - hidden)

    def iterate(self, hidden: torch.Tensor, injected: torch.Tensor, first: int, count: int) -> torch.Tensor:
        """Iterations `first .. first + count - 1` from `hidden`, firing their hook points."""
        for t in range(first, first + count):
            hidden = self.step(hidden, injected)
            if t < len(self.iterates):
                hidden = self._hook_iteration(t, hidden)
        return hidden

    # ---- heads ---------------------------------------------------------------------
    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """`(B, C, H, W)` -> move logits `(B, 4, H, W)`."""
        return self.policy_head(hidden)

    def value(self, hidden: torch.Tensor) -> torch.Tensor:
        """`(B, C, H, W)` -> per-cell value in [0, 1] `(B, H, W)` (zeros without a value head)."""
        if self.value_conv is None:
            return hidden.new_zeros(hidden.shape[0], *hidden.shape[2:])
        return torch.sigmoid(self.value_conv(hidden).squeeze(1))

    def forward(self, maze: torch.Tensor, iterations: int | None = None) -> torch.Tensor:
        """`(B, in_channels, H, W)` maze -> `(B, 4, H, W)` move logits after T iterations."""
        return self.run(maze, iterations)[0]

    def run(self, maze: torch.Tensor, iterations: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """`(logits (B, 4, H, W), value (B, H, W))` after T iterations."""
        steps = self.cfg.default_iterations if iterations is None else iterations
        check_iterations(steps)
        injected = self.encode(maze)
        hidden = self.iterate(self.initial_state(injected), injected, 0, steps)
        return self.hook_logits(self.logits(hidden)), self.hook_value(self.value(hidden))

    def maps_at(self, maze: torch.Tensor, iterations: list[int]) -> dict[int, torch.Tensor]:
        """Move logits `(B, 4, H, W)` after each T in `iterations`, in one pass of max(T) steps."""
        for steps in iterations:
            check_iterations(steps)
        injected = self.encode(maze)
        hidden, done, out = self.initial_state(injected), 0, {}
        for steps in sorted(set(iterations)):
            hidden = self.iterate(hidden, injected, done, steps - done)
            done = steps
            out[steps] = self.logits(hidden)
        return out

    def _hook_iteration(self, t: int, hidden: torch.Tensor) -> torch.Tensor:
        it = self.iterates[t]
        hidden = it.hook_hidden(hidden)
        if it.hook_state._forward_hooks:
            it.hook_state(self.value(hidden))
        if it.hook_logits._forward_hooks:
            it.hook_logits(self.logits(hidden))
        return hidden


def check_iterations(steps: int) -> None:
    """Raise `ConfigError` unless T >= 1."""
    check(steps >= 1, "iterations", f"must be >= 1, got {steps}", "1, 2, ...")


def maze_of(obs: torch.Tensor) -> torch.Tensor:
    """`(B, 8, H, W)` symbolic observations -> `(B, 7, H, W)` mazes (the agent channel dropped)."""
    if obs.dim() != 4 or obs.shape[1] != len(CHANNELS):
        raise MesalabError(
            f"observation shape {tuple(obs.shape)}: expected symbolic (B, {len(CHANNELS)}, H, W)"
        )
    return torch.cat([obs[:, :AGENT], obs[:, AGENT + 1 :]], dim=1).float()


class RecurrentPolicy(HookedModule):
    """The net as a gridworld policy: `(B, 8, H, W)` observations -> logits `(B, 4)` at the agent.

    The move map is computed once per maze and cached per batch row (keyed on the maze's
    content), so a rollout costs one pass of the net per episode, not one per step; only
    rows whose maze changed (a new episode) are recomputed. T is `iterations` when given,
    else `ceil(per_side * H)`. `cache=False` runs the net on every call.
    """

    compute_argument = "iterations"

    def __init__(
        self, net: RecurrentMazeNet, iterations: int | None = None, per_side: float = 4.0, cache: bool = True
    ) -> None:
        super().__init__()
        if iterations is not None:
            check_iterations(iterations)
        check(per_side > 0, "per_side", f"must be positive, got {per_side}")
        self.net, self.iterations, self.per_side, self.cache = net, iterations, per_side, cache
        self._mazes: torch.Tensor | None = None
        self._maps: torch.Tensor | None = None
        self._cached_t: int | None = None
        self.setup_hooks()

    @property
    def default_compute(self) -> int:
        return self.iterations if self.iterations is not None else self.net.default_compute

    def iterations_for(self, size: int) -> int:
        return self.iterations if self.iterations is not None else math.ceil(self.per_side * size)

    def move_maps(self, obs: torch.Tensor, iterations: int | None = None) -> torch.Tensor:
        """`(B, 4, H, W)` move logits for the mazes in `obs`, from the cache where it holds them."""
        return self.maps(obs, iterations)[:, :4]

    def maps(self, obs: torch.Tensor, iterations: int | None = None) -> torch.Tensor:
        """`(B, 5, H, W)`: move logits and value per cell, from the cache where it holds them.

        The cache is bypassed while a hook listens inside the net (a scoped hook must see,
        and may edit, every pass) and emptied whenever the train/eval mode changes (so
        maps computed before a weight update are never served after it)."""
        mazes = maze_of(obs)
        steps = iterations if iterations is not None else self.iterations_for(obs.shape[-1])
        if not self.cache or self._listened():
            with torch.no_grad():
                return torch.cat(self._run(mazes, steps), dim=1)
        cached = self._mazes
        if cached is None or cached.shape != mazes.shape or self._cached_t != steps or self._maps is None:
            with torch.no_grad():
                self._maps = torch.cat(self._run(mazes, steps), dim=1)
            self._mazes, self._cached_t = mazes.clone(), steps
            return self._maps
        changed = (mazes != cached).flatten(1).any(1).nonzero().squeeze(1)
        if changed.numel():
            with torch.no_grad():
                self._maps[changed] = torch.cat(self._run(mazes[changed], steps), dim=1)
            cached[changed] = mazes[changed]
        return self._maps

    def _run(self, mazes: torch.Tensor, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
        logits, value = self.net.run(mazes, steps)
        return logits, value[:, None]

    def _listened(self) -> bool:
        return any(isinstance(m, HookPoint) and m._forward_hooks for m in self.net.modules())

    def train(self, mode: bool = True) -> RecurrentPolicy:
        self._mazes = self._maps = None
        return super().train(mode)

    def forward(self, obs: torch.Tensor, iterations: int | None = None) -> torch.Tensor:
        """`(B, 8, H, W)` -> `(B, 4)` move logits at each world's agent cell."""
        return at_agent(self.move_maps(obs, iterations), obs)


def at_agent(maps: torch.Tensor, obs: torch.Tensor) -> torch.Tensor:
    """`(B, K, H, W)` per-cell maps read at each world's agent cell of `obs` `(B, 8, H, W)` -> `(B, K)`."""
    agent = obs[:, AGENT].flatten(1).argmax(1)  # (B,)
    return maps.flatten(2).gather(2, agent[:, None, None].expand(-1, maps.shape[1], 1)).squeeze(2)


class RecurrentActorCritic(RecurrentPolicy):
    """The net as an actor-critic for PPO: logits at the agent's cell, the value head's value there.

    `logits_and_value(obs)` runs the net with gradient on every call (PPO's updates need it);
    `forward(obs)` acts through `RecurrentPolicy`'s cache (one pass per episode). T is
    `ceil(per_side * H)`. The saved model is `net` (kind `recurrent`).
    """

    def __init__(self, net: RecurrentMazeNet, per_side: float = 2.0) -> None:
        if net.value_conv is None:
            raise MesalabError("a recurrent actor-critic needs the value head (model.value_head=true)")
        super().__init__(net, per_side=per_side)

    def logits_and_value(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`(B, 8, H, W)` -> `(logits (B, 4), value (B,))` at each agent's cell; from the cache
        (one pass per episode) when no gradient is taken, as in PPO's rollouts."""
        if torch.is_grad_enabled():
            logits, value = self._run(maze_of(obs), self.iterations_for(obs.shape[-1]))
            both = at_agent(torch.cat([logits, value], dim=1), obs)
        else:
            both = at_agent(self.maps(obs), obs)
        return both[:, :4], both[:, 4]


def policy_view(net: nn.Module, size: int) -> RecurrentPolicy:
    """The saved net as a gridworld policy on `size`x`size` mazes for the diagnostics: thinking
    4 x size iterations by default (`iterations=n` thinks n), hooked on exactly those iterations
    (a diagnostic that caches every `iters.{t}` hook finds each one filled); a hooked pass is
    never served from the cache."""
    if not isinstance(net, RecurrentMazeNet):
        raise MesalabError(f"a recurrent policy view needs a RecurrentMazeNet, got {type(net).__name__}")
    hooked = RecurrentMazeNet(net.cfg.replace(hooked_iterations=4 * size))  # hook points hold no weights
    hooked.load_state_dict(net.state_dict())
    return RecurrentPolicy(hooked.to(next(net.parameters()).device), iterations=4 * size)


register_model_kind("recurrent", RecurrentConfig, RecurrentMazeNet)
register_policy_view("recurrent", policy_view)
