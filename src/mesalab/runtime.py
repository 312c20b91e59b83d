"""Process settings: torch threads and the compute device.

Threads default to `MESALAB_THREADS` (tests set 1), else `DEFAULT_THREADS` (1); the device to
CUDA when present.
"""

from __future__ import annotations

import os

import torch

from mesalab.config import check
from mesalab.errors import ConfigError
from mesalab.limits import MAX_THREADS

DEFAULT_THREADS = 1
"""Torch threads when neither `--threads` nor `MESALAB_THREADS` says: the models are small, and one
thread is as fast on a quiet machine and several times faster on a busy one (an audit of a trained
policy took 17 s at 1 thread against 101 s at load 7)."""


def configure(threads: int | None = None) -> int:
    """Set torch's intra-op thread count (`threads`, else `$MESALAB_THREADS`, else `DEFAULT_THREADS`)."""
    count = threads if threads is not None else _env_threads()
    check_threads(count)
    torch.set_num_threads(count)
    return count


def check_threads(count: int, field: str = "threads") -> None:
    """Refuse a thread count outside 1..`MAX_THREADS` (torch segfaults on far too many)."""
    check(
        1 <= count <= MAX_THREADS,
        field,
        f"must be between 1 and {MAX_THREADS}, got {count}",
        f"1..{MAX_THREADS} (this machine has {os.cpu_count()} CPUs)",
    )


def _env_threads() -> int:
    text = os.environ.get("MESALAB_THREADS", str(DEFAULT_THREADS))
    try:
        return int(text)
    except ValueError:
        raise ConfigError("MESALAB_THREADS", f"not an integer: {text!r}", f"1..{MAX_THREADS}") from None


DEVICES = "cpu, cuda, cuda:N"
"""The devices `--device` takes."""


def default_device(requested: str | torch.device | None = None) -> torch.device:
    """`requested` if given ('cpu', 'cuda', 'cuda:1'), else CUDA when available, else CPU."""
    if isinstance(requested, torch.device):
        return requested
    if requested is not None:
        try:
            device = torch.device(requested)
        except (RuntimeError, ValueError):
            raise ConfigError("device", f"unknown device {requested!r}", DEVICES) from None
        check(device.type in ("cpu", "cuda"), "device", f"unknown device {requested!r}", DEVICES)
        check(
            device.type != "cuda" or torch.cuda.is_available(),
            "device",
            f"{requested} requested but CUDA is not available",
            "cpu",
        )
        count = torch.cuda.device_count() if device.type == "cuda" else 1
        check(
            device.index is None or device.index < count,
            "device",
            f"{requested}: no such device ({count} present)",
            DEVICES,
        )
        return device
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
