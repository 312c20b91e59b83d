"""The thing a diagnostic examines: a model, its domain, its reference inputs and its world.

A `Subject` is built from a zoo entry (`from_entry`) or from a saved model
(`from_saved`). It gives every diagnostic one calling convention per domain:

- `gridworld`: `call(obs (B, 8, H, W)) -> logits (B, 4)`, symbolic observations;
- `icl`: `call(x (B, N, d), y (B, N), x_query (B, d)) -> prediction (B,)`;
- `choice`: `call(z (B, m)) -> answer (B, p)`.

`run_longer(inputs, n)` runs the model with `n` units of test-time compute where it can
(the zoo protocol `compute_argument` / `default_compute`, or the horizon of a trained
planner policy); it is None for models that cannot run longer. Nothing here reads a zoo
entry's ground truth: diagnostics see the model, its inputs and its world only, and no
model is recognised by its class: a planner policy is one with the hooks `PLANNER_HOOKS`,
a sequence model is called through the token layout of in-context regression.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mesalab.config import check_choice
from mesalab.errors import MesalabError
from mesalab.hooks import HookedModule

DOMAINS: tuple[str, ...] = ("gridworld", "icl", "choice")
PLANNER_HOOKS: tuple[str, ...] = ("torso.planner.hook_reward", "actor.hook_logits")
"""Hooks that mark a planner policy: `torso(obs, horizon=n)` then `actor` thinks n steps far."""


@dataclasses.dataclass
class Subject:
    """A model under examination."""

    name: str
    """Display name (zoo entry name or model file stem)."""
    domain: str
    """One of `DOMAINS`."""
    model: nn.Module
    """The module whose hooks and weights diagnostics read (never modified)."""
    call: Callable[..., torch.Tensor]
    """The domain's calling convention (see the module docstring)."""
    reference_inputs: Any
    """The reference input set (obs, `(x, y, x_query)` or z), or None."""
    world: str | None = None
    """Gridworld distribution the model is meant for."""
    run_longer: Callable[[Any, int], torch.Tensor] | None = None
    """`(inputs, n) -> outputs` with n units of compute, or None."""
    default_compute: int | None = None
    """The compute the model normally runs with."""
    compute_name: str = ""
    """What a unit of compute is (`iterations`, `horizon`, ...)."""
    description: str = ""
    """One or two sentences on what the model is."""
    source: str | None = None
    """Model file, for saved models."""
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)
    """The saved model's JSON metadata (saved models only)."""

    def __post_init__(self) -> None:
        check_choice(self.domain, "domain", DOMAINS)

    def cache(self, inputs: Any, names: list[str] | None = None) -> dict[str, torch.Tensor]:
        """Activations of the named hooks (all by default) while `call` runs on `inputs`."""
        hooked = next((m for m in self.model.modules() if isinstance(m, HookedModule)), None)
        if hooked is None:
            return {}
        cache: dict[str, torch.Tensor] = {}

        def save(activation: torch.Tensor, hook: Any) -> None:
            cache[hook.name] = activation.detach()

        with hooked.hooks([(n, save) for n in (hooked.hook_names() if names is None else names)]):
            self.outputs(inputs)
        return cache

    def outputs(self, inputs: Any) -> torch.Tensor:
        """The model's outputs on `inputs` of this domain, without gradients."""
        with torch.no_grad():
            if self.domain == "icl":
                return self.call(*inputs)
            return self.call(inputs)


def _compute_runner(model: nn.Module) -> tuple[Callable[[Any, int], torch.Tensor] | None, int | None, str]:
    """The zoo protocol: `compute_argument` and `default_compute` class attributes."""
    arg = getattr(model, "compute_argument", None)
    default = getattr(model, "default_compute", None)
    if not isinstance(arg, str) or default is None:
        return None, None, ""

    def run(inputs: Any, n: int) -> torch.Tensor:
        with torch.no_grad():
            args = inputs if isinstance(inputs, tuple) else (inputs,)
            return model(*args, **{arg: n})

    return run, int(default), arg


def from_entry(entry: Any) -> Subject:
    """A subject from a `mesalab.zoo.ZooEntry` (its truth and objective are not passed on)."""
    model = entry.build().eval()
    reference = entry.reference_inputs() if entry.reference_inputs is not None else None
    run, default, name = _compute_runner(model)
    call = _policy_call(model) if entry.domain == "gridworld" else model
    if entry.domain == "gridworld" and run is None:
        run, default, name = _planner_horizon(model)
    return Subject(
        name=entry.name,
        domain=entry.domain,
        model=model,
        call=call,
        reference_inputs=reference,
        world=entry.world,
        run_longer=run,
        default_compute=default,
        compute_name=name,
        description=entry.description,
        source=entry.source,
    )


def _policy_call(
    model: nn.Module, convert: Callable[[torch.Tensor], torch.Tensor] | None = None
) -> Callable[[torch.Tensor], torch.Tensor]:
    def call(obs: torch.Tensor) -> torch.Tensor:
        return model(convert(obs) if convert else obs)

    return call


def _planner_horizon(
    model: nn.Module, convert: Callable[[torch.Tensor], torch.Tensor] | None = None
) -> tuple[Callable[[Any, int], torch.Tensor] | None, int | None, str]:
    """A trained planner policy thinks longer through its torso's horizon (cells within reach);
    `convert` maps symbolic observations to what the policy sees (pixels)."""
    if not isinstance(model, HookedModule) or not set(PLANNER_HOOKS) <= set(model.hook_names()):
        return None, None, ""
    torso, actor = model.get_submodule("torso"), model.get_submodule("actor")
    horizon: Any = model.get_submodule("torso.planner").horizon

    def run(obs: torch.Tensor, n: int) -> torch.Tensor:
        with torch.no_grad():
            return actor(torso(convert(obs) if convert else obs, horizon=n))

    return run, int(horizon), "horizon"


def from_saved(path: Path | str, world: str | None = None, reference_count: int = 256) -> Subject:
    """A subject from a saved model (`NAME.safetensors` + `NAME.json`).

    Policies (kind `actor-critic`) are gridworld subjects of the distribution they were
    trained on; their reference set is start states of a 512-layout bank of it (layout seed 0).
    `world` (a shifted distribution to assess them on) must fit their observation shape.
    Sequence models (`lsa`, `softmax-transformer`) are icl subjects; their reference set is
    sequences of the task they were trained on.
    """
    from mesalab.models.io import load_model

    model, meta = load_model(path)
    kind = meta["kind"]
    name = Path(path).with_suffix("").name if Path(path).suffix else Path(path).name
    if kind == "actor-critic":
        return _saved_policy(model, meta, name, str(path), world, reference_count)
    if kind in ("lsa", "softmax-transformer"):
        if world is not None:
            raise MesalabError(f"{path}: a {kind} sequence model has no gridworld; drop --world {world}")
        return _saved_sequence_model(model, meta, name, str(path))
    from mesalab.models.kinds import POLICY_VIEWS

    if kind in POLICY_VIEWS:  # a maze model that acts through a policy view (recurrent)
        return _saved_view(model, meta, name, str(path), world, reference_count)
    allowed = ", ".join(["actor-critic", "lsa", "softmax-transformer", *POLICY_VIEWS.names()])
    raise MesalabError(f"{path}: model kind {kind!r} cannot be audited (allowed: {allowed})")


def _saved_policy(
    model: nn.Module, meta: dict[str, Any], name: str, source: str, world: str | None, reference_count: int
) -> Subject:
    from mesalab.envs.gridworld import get_distribution

    cfg: Any = model.cfg  # the policy's config: size, observation mode, architecture
    world_name = world or meta.get("trained_on") or "red-door/train"
    spec = get_distribution(world_name)
    if spec.size != cfg.size:
        raise MesalabError(
            f"{source}: world {world_name} has {spec.size}x{spec.size} mazes, the model was built for "
            f"observations of shape {cfg.observation_shape} (size {cfg.size})"
        )
    from mesalab.detect.gridworld import start_observations, symbolic_to_pixels

    # diagnostics hand every policy symbolic observations; a pixels policy sees them drawn
    convert = symbolic_to_pixels if cfg.obs_mode == "pixels" else None
    from mesalab.envs.gridworld import DISTRIBUTIONS

    trained_on = meta.get("trained_on") or world_name
    if trained_on not in DISTRIBUTIONS or get_distribution(trained_on).size != cfg.size:
        trained_on = world_name  # an unregistered training world: the named one stands in
    reference = start_observations(trained_on, reference_count, seed=0, layout_seed=0)
    run, default, compute = _planner_horizon(model, convert)
    return Subject(
        name=name,
        domain="gridworld",
        model=model,
        call=_policy_call(model, convert),
        reference_inputs=reference,
        world=trained_on,  # diagnostics examine the model in its own world; `world` is the shift
        run_longer=run,
        default_compute=default,
        compute_name=compute,
        description=(
            f"a saved {cfg.arch} actor-critic policy ({cfg.obs_mode} observations, size {cfg.size}), "
            f"trained on {trained_on} by {meta.get('base_optimizer', 'an unrecorded base optimizer')}"
        ),
        source=source,
        meta=meta,
    )


def _saved_sequence_model(model: nn.Module, meta: dict[str, Any], name: str, source: str) -> Subject:
    from mesalab.envs.icl.sampler import sample_seeded, tokens
    from mesalab.envs.icl.spec import TaskSpec

    task = TaskSpec.from_dict(meta["task"]) if isinstance(meta.get("task"), dict) else None
    token_dim = int(model.cfg.token_dim)  # type: ignore[union-attr,arg-type]
    if task is None:
        task = TaskSpec(dim=token_dim - 1)
    if task.token_dim != token_dim:
        raise MesalabError(f"{source}: task dim {task.dim} does not fit the model's token width {token_dim}")
    batch = sample_seeded(task, 256, 0, "detect", "reference")

    def call(x: torch.Tensor, y: torch.Tensor, x_query: torch.Tensor) -> torch.Tensor:
        return model(tokens(x, y, x_query))  # the icl convention on a model that reads tokens

    return Subject(
        name=name,
        domain="icl",
        model=model,
        call=call,
        reference_inputs=(batch.x, batch.y, batch.x_query),
        description=f"a saved {meta['kind']} sequence model for in-context regression (task dim {task.dim})",
        source=source,
        meta=meta,
    )


def _saved_view(
    model: nn.Module, meta: dict[str, Any], name: str, source: str, world: str | None, reference_count: int
) -> Subject:
    """A gridworld subject of a saved model's policy view (`models.kinds.POLICY_VIEWS`, found by
    the saved kind, no class named), in the world it was trained on."""
    from mesalab.detect.gridworld import start_observations
    from mesalab.envs.gridworld import DISTRIBUTIONS, get_distribution
    from mesalab.models.kinds import POLICY_VIEWS

    trained_on = str(meta.get("trained_on"))
    if trained_on not in DISTRIBUTIONS:
        trained_on = world or "red-door/train"  # an unregistered training world: the named one stands in
    if world is not None:
        get_distribution(world)  # a shift it is assessed on must exist (any maze size fits a view)
    size = get_distribution(trained_on).size
    policy = POLICY_VIEWS.get(meta["kind"])(model, size).eval()
    run, default, compute = _compute_runner(policy)
    return Subject(
        name=name,
        domain="gridworld",
        model=policy,
        call=_policy_call(policy),
        reference_inputs=start_observations(trained_on, reference_count, seed=0, layout_seed=0),
        world=trained_on,
        run_longer=run,
        default_compute=default,
        compute_name=compute,
        description=(
            f"a saved {meta['kind']} model acting at the agent's cell ({size}x{size} mazes), trained on "
            f"{trained_on} by {meta.get('base_optimizer', 'an unrecorded base optimizer')}"
        ),
        source=source,
        meta=meta,
    )
