"""Interval estimates for rates."""

from __future__ import annotations

import math


def wilson_interval(successes: float, n: int, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson score interval for a binomial rate (95% by default); (0, 1) when n = 0."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def rate_summary(successes: float, n: int) -> dict[str, float]:
    """`{"rate", "low", "high", "n"}` with the 95% Wilson interval."""
    low, high = wilson_interval(successes, n)
    return {"rate": successes / n if n else 0.0, "low": low, "high": high, "n": n}
