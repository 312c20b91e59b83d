"""Versioned string IDs mapped to factories; one pattern for worlds, models, experiments.

An ID is `name` plus a version: `red-door/train-v0`. Looking up the bare name gives the
highest version; registering an ID twice is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Generic, TypeVar

from mesalab.errors import MesalabError, UnknownNameError

T = TypeVar("T")
_VERSIONED = re.compile(r"^(?P<name>.+)-v(?P<version>\d+)$")


class DuplicateRegistrationError(MesalabError):
    """The same versioned ID was registered twice."""


class Registry(Generic[T]):
    """A mapping from versioned IDs to entries, refusing duplicates."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[tuple[str, int], T] = {}

    def register(self, name: str, entry: T, version: int = 0) -> T:
        if _VERSIONED.match(name):
            raise MesalabError(f"{self.kind} name {name!r} must not carry a version suffix; pass version=")
        key = (name, version)
        if key in self._entries:
            raise DuplicateRegistrationError(f"{self.kind} {name}-v{version} is already registered")
        self._entries[key] = entry
        return entry

    def resolve(self, name: str) -> tuple[str, int]:
        """The (name, version) an ID refers to: exact with `-vN`, else the latest version."""
        match = _VERSIONED.match(name)
        if match and (match["name"], int(match["version"])) in self._entries:
            return match["name"], int(match["version"])
        versions = [v for (n, v) in self._entries if n == name]
        if not versions:
            raise UnknownNameError(self.kind, name, self.names())
        return name, max(versions)

    def get(self, name: str) -> T:
        return self._entries[self.resolve(name)]

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        try:
            self.resolve(name)
        except UnknownNameError:
            return False
        return True

    def names(self) -> list[str]:
        """Bare names, sorted, one per entry family."""
        return sorted({n for (n, _) in self._entries})

    def ids(self) -> list[str]:
        """Every versioned ID, sorted."""
        return sorted(f"{n}-v{v}" for (n, v) in self._entries)

    def items(self) -> Iterator[tuple[str, T]]:
        """(bare name, latest entry) pairs in name order."""
        for name in self.names():
            yield name, self.get(name)

    def __len__(self) -> int:
        return len(self._entries)
