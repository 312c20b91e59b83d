"""The `mesalab` command line: parses, dispatches, and turns user errors into one line.

Any `MesalabError` (a bad name, field, path or file) prints `error: ...` on stderr and
exits with code 2, without a traceback.
"""

from __future__ import annotations

import sys

import click
import typer

from mesalab.cli import run_icl_gd as _run_icl_gd  # noqa: F401
from mesalab.cli import run_red_door as _run_red_door  # noqa: F401
from mesalab.cli import runs as _runs  # noqa: F401

# Each module adds its commands to `app` (or to `run_app`) when imported.
from mesalab.cli import worlds as _worlds  # noqa: F401
from mesalab.cli.app import app
from mesalab.errors import MesalabError


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `mesalab` script."""
    try:
        result = app(args=argv, standalone_mode=False, prog_name="mesalab")
    except MesalabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except click.exceptions.Abort:
        print("aborted", file=sys.stderr)
        return 130
    except click.ClickException as exc:
        exc.show()
        return 2
    except typer.Exit as exc:
        return int(exc.exit_code)
    return int(result) if isinstance(result, int) else 0


__all__ = ["app", "main"]

if __name__ == "__main__":
    sys.exit(main())
