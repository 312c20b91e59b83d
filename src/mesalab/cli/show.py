"""Any experiment's results as tables (for `mesalab show`): never a cut or raw JSON dump.

A results file is nested JSON. Its scalars make one `field | value` table; each nested
part becomes its own table: one row per entry, one column per leaf (dotted names), or,
where that would be wider than `WIDE` columns, one row per entry and leaf.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table

from mesalab.cli.tables import table

WIDE = 8
"""Most columns of a one-row-per-entry table; wider parts are printed long (entry, field, value)."""


def leaves(value: Any, prefix: str = "") -> dict[str, Any]:
    """`{"a": {"b": 1}, "c": [1, 2]}` -> `{"a.b": 1, "c": "1, 2"}`: every leaf under a dotted name."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, inner in value.items():
            out.update(leaves(inner, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list):
        if all(not isinstance(v, dict | list) for v in value):
            return {prefix: ", ".join(cell(v) for v in value)}
        out = {}
        for i, inner in enumerate(value):
            out.update(leaves(inner, f"{prefix}[{i}]"))
        return out
    return {prefix: value}


def cell(value: Any) -> str:
    """A number or text as a table cell."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


def results_tables(results: dict[str, Any]) -> list[Table]:
    """The tables of one results file, in its key order."""
    scalars = [[k, cell(v)] for k, v in results.items() if not isinstance(v, dict | list)]
    scalars += [[k, cell(leaves(v)[k])] for k, v in results.items() if isinstance(v, list) and _flat(v)]
    tables = [table(["field", "value"], scalars)] if scalars else []
    for key, value in results.items():
        entries = _entries(value)
        if entries:
            tables.append(_part(key, entries))
    return tables


def _flat(value: list[Any]) -> bool:
    return all(not isinstance(v, dict | list) for v in value)


def _entries(value: Any) -> list[tuple[str, dict[str, Any]]]:
    """`(label, leaves)` per entry of a nested part; empty for a scalar or a flat list."""
    if isinstance(value, dict):
        if all(not isinstance(v, dict | list) for v in value.values()):
            return [("", leaves(value))] if value else []
        return [(str(k), leaves(v) if isinstance(v, dict | list) else {"value": v}) for k, v in value.items()]
    if isinstance(value, list) and not _flat(value):
        out = []
        for i, entry in enumerate(value):
            label = (
                next((str(v) for v in entry.values() if isinstance(v, str)), str(i))
                if isinstance(entry, dict)
                else str(i)
            )
            out.append((label, leaves(entry)))
        return out
    return []


def _part(title: str, entries: list[tuple[str, dict[str, Any]]]) -> Table:
    columns: list[str] = []
    for _, row in entries:
        columns += [c for c in row if c not in columns]
    if len(columns) <= WIDE:
        rows = [[label, *(cell(row.get(c)) for c in columns)] for label, row in entries]
        return table(["", *columns], rows, title=title)
    rows = [[label, field, cell(value)] for label, row in entries for field, value in row.items()]
    return table(["", "field", "value"], rows, title=title)
