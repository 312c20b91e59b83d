"""Upper bounds on what a user can ask for, checked before anything is allocated.

Every number a user can type reaches mesalab as a config field (`--set FIELD=VALUE`, or a
flag that is a shortcut for one) or as a command's option. `Config` applies these rules
to every field of every config, so a field a new config adds gets them too:

- a float must be finite (no `nan`, `inf` or `1e400`);
- an integer must be at most `INT_CEILING`, except seeds (a field whose name ends in
  `seed`), which may be any 63-bit integer;
- a field named in `FIELD_LIMITS` (nested or not) must be at most its bound there: the
  sizes that multiply into memory (maze side, batch, episodes, model width) and the
  scales that overflow float32 arithmetic.

Where sizes multiply, the allocation site also estimates its bytes with `check_bytes`
before it allocates (a batch of worlds, a model read from a sidecar): nothing a user types
allocates more than `MEMORY_BUDGET` bytes without asking for it (`MESALAB_MEMORY_BUDGET`).
"""

from __future__ import annotations

import math
import os
from typing import Any

from mesalab.errors import ConfigError

GIB = 1024**3

MEMORY_BUDGET = 2 * GIB
"""Bytes one allocation a user's values size may take; `MESALAB_MEMORY_BUDGET` (bytes) raises it."""

INT_CEILING = 10**8
"""Most any integer field may hold (seeds aside): counts of steps, layouts, episodes..."""

SEED_CEILING = 2**63 - 1
"""Most a seed may hold (torch generators take 64-bit seeds)."""

MAX_THREADS = 256
"""Most torch threads (`--threads`); torch crashes on far more."""

FIELD_LIMITS: dict[str, float] = {
    # maze side lengths: a world is size^2 cells per channel
    "size": 255,
    "sizes": 255,
    "curve_size": 255,
    "eval_size": 255,
    "probe_fit_size": 255,
    "probe_test_size": 255,
    "overthinking_max_size": 255,
    "max_objects": 64,
    "min_objects": 64,
    # batches and episode counts: one tensor row each
    "num_envs": 65_536,
    "batch_size": 65_536,
    "eval_batch_size": 65_536,
    "fit_batch_size": 65_536,
    "lsa_batch_size": 65_536,
    "softmax_batch_size": 65_536,
    "episodes": 20_000,
    "eval_episodes": 20_000,
    "shift_episodes": 20_000,
    "curve_episodes": 20_000,
    "overthinking_episodes": 20_000,
    "num_layouts": 1_000_000,
    "max_steps": 100_000,
    "num_steps": 65_536,
    # model and task widths
    "dim": 1024,
    "n_context": 4096,
    "d_model": 4096,
    "softmax_d_model": 4096,
    "width": 4096,
    "hidden": 65_536,
    "layers": 256,
    "n_layers": 256,
    "heads": 256,
    "n_heads": 256,
    "d_mlp": 65_536,
    "token_dim": 4096,
    "channels": 4096,
    "in_channels": 4096,
    "pixel_features": 4096,
    "horizon": 100_000,
    "default_iterations": 10_000,
    "hooked_iterations": 10_000,
    # repetitions: each one a training run
    "seeds": 1000,
    "batch": 1024,
    "workers": 1024,
    "trials": 100_000,
    # scales of sampled inputs and weights: float32 overflows near 3e38, and squares of
    # these enter least squares, so 1e6 keeps every product finite
    "x_scale": 1e6,
    "w_scale": 1e6,
    "noise": 1e6,
}
"""Upper bound of each size-like field, by field name, applied to every config that has it."""


def budget() -> int:
    """`MEMORY_BUDGET`, or `$MESALAB_MEMORY_BUDGET` where the user asks for more."""
    text = os.environ.get("MESALAB_MEMORY_BUDGET")
    if not text:
        return MEMORY_BUDGET
    try:
        return int(float(text))
    except ValueError:
        raise ConfigError("MESALAB_MEMORY_BUDGET", f"not a number of bytes: {text!r}") from None


def check_bytes(nbytes: float, field: str, what: str) -> None:
    """Refuse an allocation of about `nbytes` (for `what`) above the budget, naming `field`."""
    limit = budget()
    if nbytes > limit:
        raise ConfigError(
            field,
            f"{what} would take about {nbytes / GIB:.3g} GiB, over the {limit / GIB:.3g} GiB budget",
            "smaller values, or set MESALAB_MEMORY_BUDGET (bytes) to ask for more",
        )


def check_value(name: str, value: Any, path: str | None = None) -> None:
    """Apply the rules above to one field's value (tuples item by item); `path` names it."""
    path = path or name
    if isinstance(value, tuple | list):
        for item in value:
            if not isinstance(item, dict):
                check_value(name, item, path)
        return
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(path, f"must be a finite number, got {value!r}")
    if not isinstance(value, int | float):
        return
    bound = FIELD_LIMITS.get(name)
    if bound is None:
        bound = SEED_CEILING if name.endswith("seed") else INT_CEILING if isinstance(value, int) else None
    if bound is not None and abs(value) > bound:
        raise ConfigError(path, f"must be at most {bound:g} in size, got {value:g}", f"|{name}| <= {bound:g}")
