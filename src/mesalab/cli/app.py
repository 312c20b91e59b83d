"""The Typer applications the command modules attach to."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from mesalab.errors import ConfigError
from mesalab.limits import MAX_THREADS

app = typer.Typer(
    name="mesalab",
    help="A laboratory for learned optimization: train, shift, infer the objective, look inside, audit.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

run_app = typer.Typer(
    help="Run a flagship experiment; each ends in a run folder with report.html.", no_args_is_help=True
)
app.add_typer(run_app, name="run")


def show_every_default(typer_app: typer.Typer) -> None:
    """Give every option's `--help` a default: an unset flag reads `off`, an unset value `none`.

    Typer prints `[default: X]` only for a set value; an option whose help already names its
    default in words (`(default: ...)`) keeps that wording alone.
    """
    import inspect

    from typer.models import OptionInfo

    for info in [*typer_app.registered_commands]:
        for param in inspect.signature(info.callback).parameters.values():  # type: ignore[arg-type]
            option = param.default
            if not isinstance(option, OptionInfo) or isinstance(option.show_default, str):
                continue
            if "default" in (option.help or "").lower() or option.hidden:
                continue
            if option.default is False:
                option.show_default = "off"
            elif option.default is None or option.default == []:
                option.show_default = "none"
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            show_every_default(group.typer_instance)


OPTION_MINIMUMS: dict[str, int] = {
    "episodes": 1,
    "trials": 1,
    "seeds": 1,
    "workers": 1,
    "batch": 1,
    "threads": 1,
    "steps": 1,
    "index": 0,
    "seed": 0,
    "layout_seed": 0,
    "max_objects": 0,
}
"""Least value of a command's numeric option, by parameter name (counts >= 1, seeds >= 0)."""


def guard_options(typer_app: typer.Typer) -> None:
    """Check every numeric option of every command before its body runs: `OPTION_MINIMUMS`,
    then the limits every config field obeys (`mesalab.limits`: finite floats, size bounds).

    A command's options are a config in all but name; this gives a new command's `--episodes`
    the same bounds as a config's `episodes` without restating them.
    """
    for info in [*typer_app.registered_commands]:
        if info.callback is not None and not hasattr(info.callback, "__wrapped__"):
            info.callback = _checked(info.callback)
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            guard_options(group.typer_instance)


def _checked(callback: Callable[..., Any]) -> Callable[..., Any]:
    import inspect

    from mesalab.limits import check_value

    flags, defaults = {}, {}
    for name, param in inspect.signature(callback).parameters.items():
        decls = getattr(param.default, "param_decls", None) or ()
        flags[name] = next((d.split("/")[0] for d in decls if d.startswith("--")), name.upper())
        defaults[name] = getattr(param.default, "default", None)

    @functools.wraps(callback)
    def wrapper(**kwargs: Any) -> Any:
        for name, value in kwargs.items():
            if isinstance(value, Path):
                _check_path(name, value, flags[name], value == defaults[name])
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            low = OPTION_MINIMUMS.get(name)
            if low is not None and value < low:
                raise ConfigError(flags[name], f"must be >= {low}, got {value}")
            bound = MAX_THREADS if name == "threads" else None
            if bound is not None and value > bound:
                raise ConfigError(flags[name], f"must be at most {bound}, got {value}", f"1..{bound}")
            check_value(name, value, flags[name])
        return callback(**kwargs)

    return wrapper


OUTPUT_FOLDERS = frozenset({"out"})
"""Options naming a folder the command writes into (created when absent)."""
OUTPUT_FILES = frozenset({"png", "export"})
"""Options naming a file the command writes."""
INPUT_FOLDERS = frozenset({"root", "trained"})
"""Options naming a folder the command reads (its default may be absent: nothing to read)."""


def _check_path(name: str, value: Path, flag: str, is_default: bool) -> None:
    from mesalab.cli.paths import check_writable_dir, check_writable_file
    from mesalab.errors import MesalabError

    if name in OUTPUT_FOLDERS:
        check_writable_dir(value, flag)
    elif name in OUTPUT_FILES:
        check_writable_file(value, flag)
    elif name in INPUT_FOLDERS and not is_default and not value.is_dir():
        raise MesalabError(f"{flag} {value}: no such folder")
    elif str(value).strip() == "":
        raise MesalabError(f"{flag}: an empty path")


def check_grid(axes: dict[str, list[Any]], seeds: int) -> None:
    """Refuse a sweep grid of more trials than `FIELD_LIMITS['trials']`, counted before it is built."""
    import math

    from mesalab.limits import FIELD_LIMITS

    count = math.prod(len(values) for values in axes.values()) * seeds
    limit = int(FIELD_LIMITS["trials"])
    if count > limit:
        shape = " x ".join([*(str(len(v)) for v in axes.values()), f"{seeds} seeds"])
        raise ConfigError("--axis/--seeds", f"the grid has {count:,} trials ({shape})", f"at most {limit:,}")
