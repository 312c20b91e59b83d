"""Text tables of the command line, drawn with rich: a header, a rule, one row per line.

Columns fold rather than cut, so no header or cell is truncated with an ellipsis; off a
terminal (a pipe, a file, a test) the table takes the width it needs.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None) -> Table:
    """A rich table: `headers`, then `rows` (cells shown with `str`)."""
    out = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, title=title, title_justify="left")
    for header in headers:
        out.add_column(header, overflow="fold")
    for row in rows:
        out.add_row(*("" if cell is None else str(cell) for cell in row))
    return out


def console() -> Console:
    """Standard output; wide enough for any table when it is not a terminal."""
    return Console(width=None if sys.stdout.isatty() else 100_000, highlight=False)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None) -> None:
    """Print one table to standard output."""
    console().print(table(headers, rows, title))
