"""Search spaces for `mesalab tune`: which config fields Optuna varies, and what it optimizes.

Each sweep experiment that can be tuned declares one small `SearchSpace`: parameters on
dotted config fields (`ppo.learning_rate`) and the result key to maximize or minimize.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mesalab.errors import MesalabError, UnknownNameError
from mesalab.registry import Registry


@dataclass(frozen=True)
class FloatParam:
    """A float field drawn from [low, high], on a log scale when `log`."""

    name: str
    low: float
    high: float
    log: bool = False

    def suggest(self, trial: Any) -> float:
        return float(trial.suggest_float(self.name, self.low, self.high, log=self.log))


@dataclass(frozen=True)
class IntParam:
    """An int field drawn from [low, high]."""

    name: str
    low: int
    high: int
    log: bool = False

    def suggest(self, trial: Any) -> int:
        return int(trial.suggest_int(self.name, self.low, self.high, log=self.log))


@dataclass(frozen=True)
class ChoiceParam:
    """A field set to one of a few values."""

    name: str
    choices: tuple[Any, ...]

    def suggest(self, trial: Any) -> Any:
        return trial.suggest_categorical(self.name, list(self.choices))


Param = FloatParam | IntParam | ChoiceParam


@dataclass(frozen=True)
class SearchSpace:
    """The parameters a tune varies and the result it optimizes."""

    params: tuple[Param, ...]
    """Config fields (dotted keys) and their ranges."""
    objective: str
    """The result key (returned by the experiment's `run`) to optimize."""
    direction: str = "maximize"
    """`maximize` or `minimize`."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "params": [{"type": type(p).__name__, **vars(p)} for p in self.params],
            "objective": self.objective,
            "direction": self.direction,
        }

    def sample_values(self) -> dict[str, Any]:
        """One allowed value per parameter (to validate the fields before any trial)."""
        return {p.name: (p.choices[0] if isinstance(p, ChoiceParam) else p.low) for p in self.params}


SEARCH_SPACES: Registry[SearchSpace] = Registry("search space")


def register_search_space(experiment: str, space: SearchSpace) -> None:
    if space.direction not in ("maximize", "minimize"):
        raise MesalabError(f"search space of {experiment}: direction must be maximize or minimize")
    SEARCH_SPACES.register(experiment, space)


def get_search_space(experiment: str) -> SearchSpace:
    """The space declared for a sweep experiment (its module is imported first)."""
    from mesalab.sweep.experiment import get_sweep_experiment

    get_sweep_experiment(experiment)
    try:
        return SEARCH_SPACES.get(experiment)
    except UnknownNameError as exc:
        raise MesalabError(
            f"sweep experiment {experiment!r} declares no search space for tune "
            f"(tunable: {', '.join(exc.known) or 'none'})"
        ) from None
