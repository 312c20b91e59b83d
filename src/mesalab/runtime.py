"""Process settings: torch threads and the compute device.

Threads default to `MESALAB_THREADS` (tests set 1), else `DEFAULT_THREADS` (1); the device to
CUDA when present.
"""

from __future__ import annotations

import os

import torch

from mesalab.config import check

DEFAULT_THREADS = 1
"""Torch threads when neither `--threads` nor `MESALAB_THREADS` says: the models are small, and one
thread is as fast on a quiet machine and several times faster on a busy one (an audit of a trained
policy took 17 s at 1 thread against 101 s at load 7)."""


def configure(threads: int | None = None) -> int:
    """Set torch's intra-op thread count (`threads`, else `$MESALAB_THREADS`, else `DEFAULT_THREADS`)."""
    count = threads if threads is not None else int(os.environ.get("MESALAB_THREADS", str(DEFAULT_THREADS)))
    check(count >= 1, "threads", f"must be >= 1, got {count}")
    torch.set_num_threads(count)
    return count


def default_device(requested: str | None = None) -> torch.device:
    """`requested` if given ('cpu', 'cuda', 'cuda:1'), else CUDA when available, else CPU."""
    if requested:
        device = torch.device(requested)
        check(
            device.type != "cuda" or torch.cuda.is_available(),
            "device",
            f"{requested} requested but CUDA is not available",
            "cpu",
        )
        return device
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
