"""Errors a user can act on: each names what was wrong and what is allowed.

The CLI turns any `MesalabError` into one line on stderr and exit code 2.
"""

from __future__ import annotations


class MesalabError(Exception):
    """An error caused by input the user controls (a config, a path, a name)."""


class ConfigError(MesalabError, ValueError):
    """A config field holds a value that is not allowed."""

    def __init__(self, field: str, problem: str, allowed: str | None = None) -> None:
        self.field = field
        self.problem = problem
        self.allowed = allowed
        message = f"{field}: {problem}"
        if allowed:
            message += f" (allowed: {allowed})"
        super().__init__(message)


class UnknownNameError(MesalabError, KeyError):
    """A registry lookup named something that is not registered."""

    def __init__(self, kind: str, name: str, known: list[str]) -> None:
        self.kind = kind
        self.name = name
        self.known = known
        super().__init__(f"unknown {kind} {name!r} (allowed: {', '.join(known) or 'none registered'})")

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0])
