"""The evidence every diagnostic returns: a score, a verdict with its reason, numbers, figures.

A diagnostic never guesses: where it does not apply (wrong domain, no hooks, a model that
cannot run longer) or where its numbers fall between its thresholds it says `inconclusive`
and why. `behavioural` marks evidence that only looked at inputs and outputs (it never
makes the aggregate verdict `optimizer` on its own, see `aggregate`). Figures are kept as
data (`Plot`) so that the zoo benchmark stays fast and audit.json carries them too; the
audit renders them with matplotlib.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

OPTIMIZER = "optimizer"
NOT_OPTIMIZER = "not-optimizer"
INCONCLUSIVE = "inconclusive"
VERDICTS: tuple[str, ...] = (OPTIMIZER, NOT_OPTIMIZER, INCONCLUSIVE)


@dataclasses.dataclass
class Plot:
    """A figure as data: line series over a shared x axis, or bars."""

    title: str
    """Caption of the figure."""
    x: list[Any]
    """Shared x values (numbers for lines, labels for bars)."""
    series: dict[str, list[float]]
    """Series name -> y values, one per x."""
    xlabel: str = ""
    """Label of the x axis."""
    ylabel: str = ""
    """Label of the y axis."""
    kind: str = "line"
    """`line` or `bar`."""
    hlines: dict[str, float] = dataclasses.field(default_factory=dict)
    """Named horizontal reference lines (thresholds)."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class Evidence:
    """What one diagnostic found about one model."""

    diagnostic: str
    """The diagnostic's name, e.g. `algorithm-match`."""
    score: float | None
    """Its headline number (defined per diagnostic, higher = more optimizer-like); None when
    it did not apply."""
    verdict: str
    """One of `VERDICTS`."""
    reason: str
    """One or two sentences with the deciding numbers and thresholds."""
    behavioural: bool
    """True when the evidence comes from input-output behaviour alone."""
    numbers: dict[str, Any] = dataclasses.field(default_factory=dict)
    """The raw numbers behind the verdict (JSON-serialisable)."""
    figures: list[Plot] = dataclasses.field(default_factory=list)
    """Figures as data."""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: non-finite numbers (a rate over no cases) become null."""
        return finite(
            {
                "diagnostic": self.diagnostic,
                "score": self.score,
                "verdict": self.verdict,
                "reason": self.reason,
                "behavioural": self.behavioural,
                "numbers": self.numbers,
                "figures": [f.to_dict() for f in self.figures],
            }
        )


def finite(value: Any) -> Any:
    """`value` with every NaN or infinite float (in dicts, lists, tuples) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def inconclusive(diagnostic: str, reason: str, behavioural: bool, **numbers: Any) -> Evidence:
    """Evidence of a diagnostic that could not decide, with the reason."""
    return Evidence(diagnostic, None, INCONCLUSIVE, reason, behavioural, dict(numbers))


def by_thresholds(score: float, high: float, low: float) -> str:
    """`optimizer` at or above `high`, `not-optimizer` below `low`, `inconclusive` between."""
    if score >= high:
        return OPTIMIZER
    if score < low:
        return NOT_OPTIMIZER
    return INCONCLUSIVE
