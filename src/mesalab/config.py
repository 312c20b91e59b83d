"""Frozen config dataclasses: JSON round trip, a stable hash, a field diff, validation.

Every config in mesalab is a `@dataclass(frozen=True)` that inherits `Config`, with a
docstring under each field (read by `field_docs`, shown by the CLI and the reports).
Values are validated at the boundary: `Config.from_dict` checks types with pydantic and
`mesalab.limits` bounds every field (finite floats, size-like fields by name); each
class's `validate()` checks ranges; all raise `ConfigError` naming the field. A field
a config no longer has is listed in its `RETIRED_FIELDS`, so run folders written before
still load: `from_dict` drops it with a one-line note.

Example:
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Adam(Config):
    ...     lr: float = 1e-3
    ...     '''Learning rate.'''
    >>> Adam().diff(Adam(lr=0.1))
    [('lr', 0.001, 0.1)]
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import hashlib
import inspect
import itertools
import json
import sys
import textwrap
import typing
from typing import Any, ClassVar, Self

import pydantic

from mesalab.errors import ConfigError
from mesalab.limits import check_value


@dataclasses.dataclass(frozen=True)
class Config:
    """Base of every mesalab config. Subclasses are frozen dataclasses."""

    RETIRED_FIELDS: ClassVar[dict[str, Any]] = {}
    """Fields this config no longer has, each with the value at which it changed nothing.
    `from_dict` drops them from configs written before, with a one-line note, and refuses
    any other value (this version cannot run it). `identity()` counts them at that value,
    so a config hashes as it did before the field retired and old sweeps still resume."""
    ADDED_FIELDS: ClassVar[tuple[str, ...]] = ()
    """Fields added after configs of this class were hashed: `identity()` leaves each out while
    it holds its default, so adding a field changes no hash of the configs that do not use it."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):  # the rules every field obeys (`mesalab.limits`)
            check_value(f.name, getattr(self, f.name))
        self.validate()

    def validate(self) -> None:
        """Raise `ConfigError` for a value outside its allowed range. Override to add checks."""

    # ---- serialisation -------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Build and validate from plain data; unknown or mistyped fields raise `ConfigError`."""
        if not isinstance(data, dict):
            raise ConfigError(cls.__name__, f"expected a mapping, got {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        for key in data:
            if key not in names and key not in cls.RETIRED_FIELDS:
                raise ConfigError(key, f"not a field of {cls.__name__}", ", ".join(sorted(names)))
        data = _drop_retired(cls, data, prefix="")
        try:
            return _adapter(cls).validate_python(data)  # type: ignore[no-any-return,arg-type]
        except pydantic.ValidationError as exc:
            raise _config_error(exc) from None
        except ConfigError:
            raise

    @classmethod
    def from_json(cls, text: str) -> Self:
        return cls.from_dict(json.loads(text))

    def replace(self, **changes: Any) -> Self:
        """A copy with some fields changed, validated like any other."""
        return self.from_dict({**self.to_dict(), **{k: _plain(v) for k, v in changes.items()}})

    # ---- identity ------------------------------------------------------------------
    def identity(self) -> dict[str, Any]:
        """What names this config: `to_dict()` plus each retired field at its neutral value
        (nested configs too), so retiring a field changes no hash."""
        own = {
            f.name: _identity(getattr(self, f.name))
            for f in dataclasses.fields(self)
            if f.name not in self.ADDED_FIELDS or getattr(self, f.name) != _default(f)
        }
        return {**{k: _plain(v) for k, v in self.RETIRED_FIELDS.items()}, **own}

    def stable_hash(self, length: int = 10) -> str:
        """A hash of the canonical JSON of `identity()`: the same config, the same hash everywhere."""
        canonical = json.dumps(self.identity(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:length]

    def diff(self, other: Config) -> list[tuple[str, Any, Any]]:
        """The fields (dotted paths into nested configs) whose values differ."""
        return _diff(self.to_dict(), other.to_dict(), prefix="")


def field_docs(cls: type) -> dict[str, str]:
    """The docstring written under each dataclass field, by field name (inherited too)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if dataclasses.is_dataclass(klass) and klass is not Config:
            docs.update(_own_field_docs(klass))
    return docs


@functools.cache
def _own_field_docs(cls: type) -> dict[str, str]:
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    class_node = ast.parse(source).body[0]
    assert isinstance(class_node, ast.ClassDef)
    docs: dict[str, str] = {}
    body = class_node.body
    for node, following in itertools.pairwise(body):
        is_field = isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
        is_doc = isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant)
        if is_field and is_doc and isinstance(following.value.value, str):  # type: ignore[attr-defined]
            docs[node.target.id] = inspect.cleandoc(following.value.value)  # type: ignore[attr-defined,union-attr]
    return docs


@functools.cache
def _adapter(cls: Any) -> pydantic.TypeAdapter[Any]:
    return pydantic.TypeAdapter(cls)


def _config_error(exc: pydantic.ValidationError) -> ConfigError:
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "config"
    ctx = first.get("ctx") or {}
    if "error" in ctx and isinstance(ctx["error"], ConfigError):
        inner = ctx["error"]
        return ConfigError(inner.field, inner.problem, inner.allowed)
    return ConfigError(field, f"{first['msg'].lower()}, got {first.get('input')!r}")


_NOTED: set[str] = set()
"""Retired fields already noted in this process (one note each, not one per run folder)."""


def _drop_retired(cls: type[Config], data: dict[str, Any], prefix: str) -> dict[str, Any]:
    """`data` without the retired fields of `cls` and of the configs nested in it, noting each
    once; a retired field away from its neutral value raises `ConfigError`."""
    out: dict[str, Any] = {}
    nested = _nested_configs(typing.cast(type, cls))  # the cast: a frozen config class is hashable
    for key, value in data.items():
        path = prefix + key
        if key in cls.RETIRED_FIELDS:
            neutral = cls.RETIRED_FIELDS[key]
            check(
                value == neutral,
                path,
                f"is retired; this version runs as if it were {neutral!r}, got {value!r}",
                "a run folder written with it at the neutral value",
            )
            if path not in _NOTED:
                _NOTED.add(path)
                print(f"note: config field {path} is retired; dropped", file=sys.stderr)
            continue
        sub = nested.get(key)
        out[key] = _drop_retired(sub, value, path + ".") if sub and isinstance(value, dict) else value
    return out


@functools.cache
def _nested_configs(cls: type) -> dict[str, type[Config]]:
    """The fields of `cls` whose declared type is itself a config, by name."""
    hints = typing.get_type_hints(cls)
    return {
        f.name: hints[f.name]
        for f in dataclasses.fields(cls)
        if isinstance(hints.get(f.name), type) and issubclass(hints[f.name], Config)
    }


def _default(f: dataclasses.Field[Any]) -> Any:
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


def _identity(value: Any) -> Any:
    if isinstance(value, Config):
        return value.identity()
    if isinstance(value, tuple | list):
        return [_identity(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _identity(v) for k, v in value.items()}
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Config):
        return value.to_dict()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _diff(a: Any, b: Any, prefix: str) -> list[tuple[str, Any, Any]]:
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[tuple[str, Any, Any]] = []
        for key in sorted(set(a) | set(b)):
            out += _diff(a.get(key), b.get(key), f"{prefix}{key}" if not prefix else f"{prefix}.{key}")
        return out
    return [] if a == b else [(prefix, a, b)]


def check(condition: bool, field: str, problem: str, allowed: str | None = None) -> None:
    """Raise `ConfigError(field, problem, allowed)` unless `condition` holds."""
    if not condition:
        raise ConfigError(field, problem, allowed)


def check_choice(value: Any, field: str, choices: typing.Iterable[Any]) -> None:
    """Raise unless `value` is one of `choices`, listing them."""
    options = list(choices)
    if value not in options:
        raise ConfigError(field, f"unknown value {value!r}", ", ".join(map(str, options)))
