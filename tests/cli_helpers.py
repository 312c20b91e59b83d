"""The `mesalab` command line run as a subprocess, as a user runs it (torch on one thread)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ENV = {**os.environ, "MESALAB_THREADS": "1", "OMP_NUM_THREADS": "1"}
"""The environment of every CLI subprocess: one torch thread, like the rest of the suite."""


def mesalab(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run `python -m mesalab ARGS` in `cwd`; stdout and stderr captured as text."""
    command = [sys.executable, "-m", "mesalab", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=ENV, timeout=timeout)
