"""The command line's one progress library is tqdm (the training loops, sweeps and tune use it).

tqdm was kept over rich.progress because the PPO, BC, sweep, tune, break and zoo loops
already draw with it, it writes to stderr (results on stdout stay clean) and it behaves
the same in a terminal and in a log file. `Stages` shows a command made of named steps
(an audit, an assessment) as one bar that names the step in progress.
"""

from __future__ import annotations

from typing import Any

import typer
from tqdm import tqdm

PROGRESS_HELP = "Show progress on stderr (bars that stay visible when done)."
"""The help of every `--progress/--no-progress` option."""


def progress_option() -> Any:
    """`--progress/--no-progress`, the same on every command that runs longer than a few seconds."""
    return typer.Option(True, "--progress/--no-progress", help=PROGRESS_HELP)


def quiet_option() -> Any:
    """`--quiet`: the old spelling of `--no-progress`, hidden from the help."""
    return typer.Option(False, "--quiet", hidden=True, help="Same as --no-progress.")


class Stages:
    """One bar over named steps: each `stage(name)` call finishes the step before it."""

    def __init__(self, total: int, desc: str, enabled: bool = True) -> None:
        self.bar = tqdm(
            total=total, desc=desc, unit="step", disable=not enabled, leave=True, dynamic_ncols=True
        )
        self.started = False

    def __call__(self, name: str) -> None:
        if self.started:
            self.bar.update(1)
        self.started = True
        self.bar.set_postfix_str(name)

    def close(self) -> None:
        """Finish the last step and leave the bar full."""
        if self.started:
            self.bar.total = max(self.bar.total or 0, self.bar.n + 1)
            self.bar.update(1)
            self.bar.set_postfix_str("done")
        self.bar.close()
