"""The `mesalab` command line: parses, dispatches, and turns user errors into one line.

Every user error (a parse error, a bad name, field, path, file or limit) prints one
`error: ...` line on stderr and exits with code 2, without a traceback: see `boundary`.
"""

from __future__ import annotations

import sys

from mesalab.cli import audit as _audit  # noqa: F401
from mesalab.cli import break_shift as _break_shift  # noqa: F401
from mesalab.cli import run_emergence as _run_emergence  # noqa: F401
from mesalab.cli import run_icl_gd as _run_icl_gd  # noqa: F401
from mesalab.cli import run_oversight as _run_oversight  # noqa: F401
from mesalab.cli import run_red_door as _run_red_door  # noqa: F401
from mesalab.cli import run_think_longer as _run_think_longer  # noqa: F401
from mesalab.cli import runs as _runs  # noqa: F401
from mesalab.cli import sweep as _sweep  # noqa: F401
from mesalab.cli import tune as _tune  # noqa: F401

# Each module adds its commands to `app` (or to `run_app`) when imported.
from mesalab.cli import worlds as _worlds  # noqa: F401
from mesalab.cli import zoo as _zoo  # noqa: F401
from mesalab.cli.app import app, guard_options, show_every_default
from mesalab.cli.boundary import invoke

show_every_default(app)
guard_options(app)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `mesalab` script: the exit code; user errors end as one line (`boundary`)."""
    return invoke(app, argv)


__all__ = ["app", "main"]

if __name__ == "__main__":
    sys.exit(main())
