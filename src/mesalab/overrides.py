"""`--set dotted.field=value`: change fields of a frozen config, validated, from text.

One syntax for every command that takes a config (`run ...`, `sweep`, `tune`, `worlds
show`): `FIELD=VALUE`, where FIELD is a dotted path into nested configs (`ppo.total_steps`)
and VALUE is read as JSON (`5`, `0.5`, `true`, `null`, `[0, 0.2, 1]`), else taken as the
text itself. Two readings follow the field's declared type: a `str` field takes the text
as written (`--set name=123` is the string "123"), and a tuple field also takes a comma
list (`--set fractions=0,0.2,1`). Every change is validated by the config's own checks
(pydantic types, then `validate()`); errors are `ConfigError`s naming the full dotted field.

Example:
    >>> from mesalab.train.ppo import PPOConfig
    >>> apply_sets(PPOConfig(), ["total_steps=4096", "anneal_lr=false"]).total_steps
    4096
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import shlex
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from mesalab.config import Config, field_docs
from mesalab.errors import ConfigError

C = TypeVar("C", bound=Config)


@dataclass(frozen=True)
class FieldHelp:
    """One settable field of a config, as `--help` lists it."""

    path: str
    """Dotted path from the root config, e.g. `ppo.total_steps`."""
    type: str
    """The declared type as written, e.g. `int`, `tuple[float, ...]`, `int | None`."""
    default: Any
    """The value in the config listed (plain JSON data)."""
    doc: str
    """The docstring written under the field."""


# ---- parsing ------------------------------------------------------------------------------------


def split_set(text: str) -> tuple[str, str]:
    """`"ppo.total_steps=4096"` -> `("ppo.total_steps", "4096")`; the value stays text."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError("--set", f"expected FIELD=VALUE (e.g. ppo.total_steps=4096), got {text!r}")
    return key, value


def parse_value(text: str, declared: Any = Any) -> Any:
    """The value of `text` for a field declared as `declared`: JSON, else the text itself."""
    if declared is str:
        return text
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = _NOT_JSON
    if not _is_tuple(declared) or isinstance(value, list) or value is None:
        return text if value is _NOT_JSON else value
    # a tuple field given as a comma list (or one bare item): each item read on its own
    return [parse_value(part.strip()) for part in text.split(",") if part.strip()]


_NOT_JSON = object()


def parse_sets(cfg: Config, items: Iterable[str]) -> dict[str, Any]:
    """`["a.b=1", "c=x"]` -> `{"a.b": 1, "c": "x"}`, each value read for its field's type."""
    out: dict[str, Any] = {}
    for item in items:
        key, text = split_set(item)
        out[key] = parse_value(text, _declared(cfg, key))
    return out


def apply_sets(cfg: C, items: Iterable[str]) -> C:
    """`cfg` with every `FIELD=VALUE` of `items` applied in order (a later one wins)."""
    return apply_overrides(cfg, parse_sets(cfg, items))


def apply_overrides(cfg: C, overrides: Mapping[str, Any]) -> C:
    """`cfg` with dotted fields replaced by (already typed) values, each validated."""
    for key, value in overrides.items():
        cfg = _apply(cfg, key.split("."), value, "", cfg)
    return cfg


def _apply(cfg: C, parts: list[str], value: Any, prefix: str, root: Config) -> C:
    name, full = parts[0], prefix + parts[0]
    if name not in {f.name for f in dataclasses.fields(cfg)}:
        raise _unknown(full, prefix, cfg, root)
    if len(parts) > 1:
        child = getattr(cfg, name)
        if not isinstance(child, Config):
            raise ConfigError(full + "." + ".".join(parts[1:]), f"{full} is a value, not a nested config")
        value = _apply(child, parts[1:], value, full + ".", root)
    try:
        return cfg.replace(**{name: value})
    except ConfigError as exc:  # named relative to `cfg`: make it the full dotted path
        raise ConfigError(prefix + exc.field, exc.problem, exc.allowed) from None


def _unknown(full: str, prefix: str, cfg: Config, root: Config) -> ConfigError:
    owner = prefix.rstrip(".") or type(root).__name__
    nearest = difflib.get_close_matches(full, [f.path for f in config_fields(root)], n=4, cutoff=0.6)
    if nearest:
        return ConfigError(full, f"not a field of {owner}; did you mean {' or '.join(nearest)}?")
    here = [
        prefix + f.name + (".*" if isinstance(getattr(cfg, f.name), Config) else "")
        for f in dataclasses.fields(cfg)
    ]
    return ConfigError(full, f"not a field of {owner}", ", ".join(here))


# ---- types and help -----------------------------------------------------------------------------


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _declared(cfg: Config, key: str) -> Any:
    """The declared type at a dotted key, or `Any` where the key does not name a field."""
    node: Any = cfg
    declared: Any = Any
    for part in key.split("."):
        if not isinstance(node, Config) or part not in {f.name for f in dataclasses.fields(node)}:
            return Any
        declared = _hints(type(node)).get(part, Any)
        node = getattr(node, part)
    return declared


def _is_tuple(declared: Any) -> bool:
    if declared is tuple or typing.get_origin(declared) is tuple:
        return True
    if typing.get_origin(declared) in (typing.Union, types.UnionType):
        return any(_is_tuple(arg) for arg in typing.get_args(declared))
    return False


def type_name(declared: Any) -> str:
    """`int`, `tuple[float, ...]`, `int | None`: the type as a user writes it."""
    if isinstance(declared, type) and not typing.get_args(declared):
        return declared.__name__
    return str(declared).replace("typing.", "").replace("NoneType", "None")


def config_fields(cfg: Config, prefix: str = "") -> list[FieldHelp]:
    """Every settable leaf field of `cfg` (nested configs walked), in declaration order."""
    docs = field_docs(type(cfg))
    hints = _hints(type(cfg))
    out: list[FieldHelp] = []
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if isinstance(value, Config):
            out += config_fields(value, prefix + f.name + ".")
            continue
        plain = cfg.to_dict()[f.name]
        out.append(FieldHelp(prefix + f.name, type_name(hints.get(f.name, Any)), plain, docs.get(f.name, "")))
    return out


def show_value(value: Any) -> str:
    """A field value as `--set` reads it back (JSON)."""
    return json.dumps(value)


# ---- the inverse: the --set arguments that turn one config into another -------------------------


def set_args(base: Config, cfg: Config) -> list[str]:
    """`FIELD=VALUE` items that `apply_sets(base, items)` turns into `cfg` (each field that differs)."""
    before = {f.path: f.default for f in config_fields(base)}
    out = []
    for f in config_fields(cfg):
        if f.path in before and before[f.path] == f.default:
            continue
        text = json.dumps(f.default)
        if isinstance(f.default, str) and parse_value(f.default, _declared(cfg, f.path)) == f.default:
            text = f.default
        out.append(f"{f.path}={text}")
    return out


def reproduce_command(command: str, cfg: Config, presets: Mapping[str, Config]) -> str:
    """The shell line that runs `cfg` again: `command`, the nearest preset's flag, then `--set`s.

    `presets` maps a flag (`""` for none, `"--quick"`) to the config it starts from.
    """
    flag, items = min(
        ((flag, set_args(base, cfg)) for flag, base in presets.items()), key=lambda p: len(p[1])
    )
    parts = [command, *([flag] if flag else []), *(f"--set {shlex.quote(item)}" for item in items)]
    return " ".join(parts)
