"""Sweep experiments: a default trial config plus `run(config, trial_dir) -> results`.

A `SweepExperiment` is what `mesalab sweep NAME` and `mesalab tune NAME` schedule: each
trial is the experiment's config with some fields overridden (`--axis key=v1,v2`,
dotted keys for nested configs) and its `seed` replaced by one derived from
`(base seed, trial path)`. `run` must be a top-level function (Ray pickles it by
reference) that returns flat JSON-able results (numbers and strings).

Built-in experiments register themselves when their module is imported; the modules are
listed in `BUILTIN_MODULES` and imported on the first lookup.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mesalab.config import Config
from mesalab.errors import ConfigError, MesalabError
from mesalab.registry import Registry

BUILTIN_MODULES: tuple[str, ...] = (
    "mesalab.sweep.builtin",
    "mesalab.experiments.emergence_red_door",
    "mesalab.experiments.emergence_icl",
    "mesalab.experiments.think_longer.trial",
)
"""Modules that register sweep experiments at import (a missing one is skipped)."""


@dataclass(frozen=True)
class SweepExperiment:
    """One experiment a sweep can run many times with different fields and seeds."""

    name: str
    """CLI name, e.g. `red-door-arm`, `tiny`."""
    config: Config
    """The default trial config: a frozen mesalab `Config` with an int field `seed`."""
    run: Callable[[Config, Path], dict[str, Any]]
    """`(trial config, existing trial folder) -> flat JSON-able results`; top-level function."""
    description: str = ""
    """One line for `mesalab sweep --help` and the report."""
    metrics: tuple[str, ...] = ()
    """The result keys worth showing in tables and figures."""


SWEEP_EXPERIMENTS: Registry[SweepExperiment] = Registry("sweep experiment")
_builtins_loaded = False


def register_sweep_experiment(exp: SweepExperiment) -> None:
    """Make `exp` available by name; registering a name twice is refused."""
    if not any(f.name == "seed" for f in dataclasses.fields(exp.config)):
        raise MesalabError(f"sweep experiment {exp.name!r}: its config has no `seed` field")
    SWEEP_EXPERIMENTS.register(exp.name, exp)


def _load_builtins() -> None:
    global _builtins_loaded
    if _builtins_loaded:
        return
    _builtins_loaded = True
    for module in BUILTIN_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:  # the module exists but one of its imports is missing
                raise


def get_sweep_experiment(name: str) -> SweepExperiment:
    """The experiment registered under `name` (unknown names list the known ones)."""
    _load_builtins()
    return SWEEP_EXPERIMENTS.get(name)


def sweep_experiment_names() -> list[str]:
    _load_builtins()
    return SWEEP_EXPERIMENTS.names()


# ---- overriding config fields by dotted key -------------------------------------------------------


def with_overrides(config: Config, overrides: dict[str, Any]) -> Config:
    """A copy of `config` with dotted fields replaced, validated by the config's own checks.

    A string value that does not validate as given is tried once more as JSON (so
    `'["red","blue"]'` sets a tuple field). Unknown fields raise `ConfigError` naming the
    fields that exist at that level.
    """
    data = config.to_dict()
    for key, value in overrides.items():
        _set_path(data, key, _typed(config, key, value), type(config).__name__)
    return type(config).from_dict(data)


def _typed(config: Config, key: str, value: Any) -> Any:
    """`value` as given if it validates alone, else its JSON reading if that does."""
    candidates = [value]
    if isinstance(value, str) and (parsed := _json_or_missing(value)) is not _MISSING:
        candidates.append(parsed)  # `null` reads as None: a value, not a failed parse
    for candidate in candidates:
        data = config.to_dict()
        _set_path(data, key, candidate, type(config).__name__)
        try:
            type(config).from_dict(data)
        except ConfigError:
            continue
        return candidate
    return value  # the combined validation reports what is wrong with it


def get_path(config: Config, key: str) -> Any:
    """The value at a dotted key (`ppo.learning_rate`) as plain data."""
    node: Any = config.to_dict()
    for part in key.split("."):
        node = node[part]
    return node


def _set_path(data: dict[str, Any], key: str, value: Any, owner: str) -> None:
    parts = key.split(".")
    node = data
    for depth, part in enumerate(parts):
        if not isinstance(node, dict) or part not in node:
            where = ".".join(parts[:depth]) or owner
            known = ", ".join(sorted(node)) if isinstance(node, dict) else "none (not a nested config)"
            raise ConfigError(key, f"not a field of {where}", known)
        if depth == len(parts) - 1:
            node[part] = value
        else:
            node = node[part]


_MISSING = object()


def _json_or_missing(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return _MISSING


def split_values(text: str) -> list[str]:
    """Split `v1,v2,...` on commas outside brackets and quotes (`[1,2],[3]` is two values)."""
    values: list[str] = []
    current: list[str] = []
    depth, quote = 0, ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "[{(":
            depth += 1
        elif char in "]})":
            depth -= 1
        elif char == "," and depth == 0:
            values.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    values.append("".join(current).strip())
    return values


def parse_axis(text: str) -> tuple[str, list[str]]:
    """`key=v1,v2` -> (`key`, [`v1`, `v2`]); the values stay strings until validated."""
    key, sep, rest = text.partition("=")
    key = key.strip()
    if not sep or not key or not rest.strip():
        raise MesalabError(f"axis {text!r}: expected KEY=V1,V2,... (for example ppo.learning_rate=0.01,0.02)")
    values = split_values(rest)
    if any(v == "" for v in values):
        raise MesalabError(f"axis {text!r}: an empty value")
    return key, values
