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


def rate_difference(successes_a: float, n_a: int, successes_b: float, n_b: int) -> dict[str, float]:
    """`{"rate", "low", "high"}`: rate a minus rate b of two independent samples, with
    Newcombe's 95% interval (hybrid Wilson: each rate's Wilson interval, combined)."""
    p_a = successes_a / n_a if n_a else 0.0
    p_b = successes_b / n_b if n_b else 0.0
    low_a, high_a = wilson_interval(successes_a, n_a)
    low_b, high_b = wilson_interval(successes_b, n_b)
    diff = p_a - p_b
    return {
        "rate": diff,
        "low": diff - math.sqrt((p_a - low_a) ** 2 + (high_b - p_b) ** 2),
        "high": diff + math.sqrt((high_a - p_a) ** 2 + (p_b - low_b) ** 2),
    }


def paired_difference(only_a: float, only_b: float, n: int) -> dict[str, float]:
    """`{"rate", "low", "high", "n"}`: rate a minus rate b measured on the same n episodes, from
    the discordant counts (a and not b, b and not a); the Wilson interval of the one count
    where the other is 0, else a normal interval on the per-episode differences."""
    if only_b == 0 or only_a == 0:
        sign, count = (1.0, only_a) if only_b == 0 else (-1.0, only_b)
        low, high = wilson_interval(count, n)
        bounds = sorted((sign * low, sign * high))
        return {"rate": sign * count / n if n else 0.0, "low": bounds[0], "high": bounds[1], "n": n}
    mean = (only_a - only_b) / n
    var = ((only_a + only_b) / n - mean * mean) / max(n - 1, 1)
    half = 1.959964 * math.sqrt(var)
    return {"rate": mean, "low": max(-1.0, mean - half), "high": min(1.0, mean + half), "n": n}
