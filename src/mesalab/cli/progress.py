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
    """One bar over named steps: each `stage(name)` call finishes the step before it.

    The bar appears at the first step, so a command that refuses its input before any
    step prints its one `error:` line alone.
    """

    def __init__(self, total: int, desc: str, enabled: bool = True) -> None:
        self.total, self.desc, self.enabled = total, desc, enabled
        self.bar: Any = None

    def __call__(self, name: str) -> None:
        if self.bar is None:
            self.bar = tqdm(
                total=self.total, desc=self.desc, unit="step", disable=not self.enabled, leave=True
            )
        else:
            self.bar.update(1)
        self.bar.set_postfix_str(name)

    def close(self) -> None:
        """Finish the last step and leave the bar full."""
        if self.bar is None:
            return
        self.bar.total = max(self.bar.total or 0, self.bar.n + 1)
        self.bar.update(1)
        self.bar.set_postfix_str("done")
        self.bar.close()
