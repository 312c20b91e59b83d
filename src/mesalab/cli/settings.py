"""`--set FIELD=VALUE` on the command line: which config each command sets, and its `--help`.

The config is the command line (cleanrl / tyro style): each experiment's frozen config
dataclass is the list of its knobs, and the docstring under each field is its help. A
command that runs an experiment takes `--quick` (the preset), then its shortcut flags,
then every `--set` in order; the result is validated before anything is written.

`FLAGSHIPS` is the one table from a `mesalab run` name to its configs: the only place in
the CLI that names the experiments' config classes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any  # click's Context and HelpFormatter: typer vendors its own click

import typer
from typer.core import TyperCommand

from mesalab.config import Config
from mesalab.overrides import apply_overrides, apply_sets, config_fields, show_value

SET_HELP = (
    "FIELD=VALUE: set a config field (dotted for nested ones, e.g. ppo.total_steps=4096); "
    "VALUE is JSON, else text; repeatable, applied after --quick. The fields are listed below."
)
"""The help of every `--set` option."""


@dataclass(frozen=True)
class Flagship:
    """A `mesalab run` experiment's configs: the default and the `--quick` preset."""

    default: Config
    """The full configuration (what runs without `--quick`)."""
    quick: Config
    """The `--quick` preset."""


def _red_door() -> Flagship:
    from mesalab.experiments.red_door import QUICK, RedDoorConfig

    return Flagship(RedDoorConfig(), QUICK)


def _icl_gd() -> Flagship:
    from mesalab.experiments.icl_gd import QUICK, IclGdConfig

    return Flagship(IclGdConfig(), QUICK)


def _emergence_red_door() -> Flagship:
    from mesalab.experiments.emergence_red_door import QUICK, EmergenceRedDoorConfig

    return Flagship(EmergenceRedDoorConfig(), QUICK)


def _emergence_icl() -> Flagship:
    from mesalab.experiments.emergence_icl import QUICK, EmergenceIclConfig

    return Flagship(EmergenceIclConfig(), QUICK)


def _oversight() -> Flagship:
    from mesalab.experiments.oversight import QUICK, OversightConfig

    return Flagship(OversightConfig(), QUICK)


def _think_longer() -> Flagship:
    from mesalab.experiments.think_longer.config import QUICK, ThinkLongerConfig

    return Flagship(ThinkLongerConfig(), QUICK)


FLAGSHIPS: dict[str, Callable[[], Flagship]] = {
    "red-door": _red_door,
    "oversight": _oversight,
    "icl-gd": _icl_gd,
    "emergence-red-door": _emergence_red_door,
    "emergence-icl": _emergence_icl,
    "think-longer": _think_longer,
}
"""`mesalab run NAME` -> its configs, imported only when the command (or its help) runs."""


def flagship_config(
    name: str, quick: bool, sets: Sequence[str], shortcuts: Mapping[str, Any] | None = None
) -> Config:
    """The preset (`--quick` or default), then the shortcut flags given, then every `--set`."""
    configs = FLAGSHIPS[name]()
    cfg = configs.quick if quick else configs.default
    given = {k: v for k, v in (shortcuts or {}).items() if v is not None}
    return apply_sets(apply_overrides(cfg, given), sets)


def run_flagship(
    name: str,
    run: Callable[..., Path],
    *,
    quick: bool,
    sets: Sequence[str],
    shortcuts: Mapping[str, Any],
    out: Path,
    resume: str | None,
    threads: int | None,
    device: str | None,
    progress: bool,
) -> Path:
    """Validate everything first, then run `name` (or finish the run folder `resume`); say where."""
    from mesalab.runtime import configure, default_device
    from mesalab.store import find_run

    if resume is not None:
        resumed = find_run(resume, out)
        cfg = resumable_config(name, resumed, quick, sets, shortcuts)
        configure(resumed_threads(resumed, threads))
        dev = default_device(device)
        if (resumed / "results.json").exists():
            typer.echo(f"{resumed.name} is finished: nothing to resume (its results are kept)")
            run_dir = resumed
        else:
            run_dir = run(cfg, out, resume=resumed, device=dev, progress=progress)
    else:
        cfg = flagship_config(name, quick, sets, shortcuts)
        configure(threads)
        run_dir = run(cfg, out, device=default_device(device), progress=progress)
    typer.echo(f"run folder: {run_dir}")
    typer.echo(f"report:     {run_dir / 'report.html'}")
    return run_dir


def resumable_config(
    name: str, folder: Path, quick: bool, sets: Sequence[str], shortcuts: Mapping[str, Any]
) -> Config:
    """The config stored in the run folder `folder`, checked: it must be a `name` run, and
    any `--quick`, shortcut or `--set` given must describe that same config (they cannot
    change a run half done); a field they would change is refused, by name."""
    from mesalab.errors import MesalabError
    from mesalab.store import read_json

    record = read_json(folder / "config.json")
    if not isinstance(record, dict) or record.get("experiment") != name:
        found = record.get("experiment") if isinstance(record, dict) else None
        raise MesalabError(
            f"--resume {folder}: holds a {found!r} run, not {name} (allowed: a {name} run folder)"
        )
    stored = type(FLAGSHIPS[name]().default).from_dict(record["config"])
    if not (quick or sets or any(v is not None for v in shortcuts.values())):
        return stored
    asked = flagship_config(name, quick, sets, shortcuts)
    differ = stored.diff(asked)
    if differ:
        fields = ", ".join(f"{key} ({old!r} stored, {new!r} asked)" for key, old, new in differ[:4])
        raise MesalabError(
            f"--resume: the run keeps the config it was started with; for {folder.name} the flags "
            f"change {fields} (allowed: flags that repeat the stored config, or none)"
        )
    return stored


def resumed_threads(folder: Path, threads: int | None) -> int | None:
    """The thread count a resumed run continues on: the one it started with (results are
    bit-equal at one count, not across counts); another `--threads` is refused."""
    from mesalab.errors import MesalabError
    from mesalab.store import read_json

    stored = read_json(folder / "config.json").get("threads")
    if threads is not None and stored is not None and threads != stored:
        raise MesalabError(
            f"--threads {threads}: {folder.name} was started on {stored} threads, and results are "
            f"bit-equal only at one thread count (allowed: {stored}, or leave --threads out)"
        )
    return threads if threads is not None else stored


# ---- --help: the fields, from their docstrings ---------------------------------------------------


def fields_text(cfg: Config, quick: Config | None = None) -> list[tuple[str, str]]:
    """`(field: type = default [quick: v], docstring)` for every settable field of `cfg`."""
    quick_values = {f.path: f.default for f in config_fields(quick)} if quick is not None else {}
    rows = []
    for f in config_fields(cfg):
        head = f"{f.path}: {f.type} = {show_value(f.default)}"
        if f.path in quick_values and quick_values[f.path] != f.default:
            head += f"  (--quick: {show_value(quick_values[f.path])})"
        rows.append((head, f.doc))
    return rows


def print_fields(formatter: Any, title: str, rows: list[tuple[str, str]]) -> None:
    """Append the field list to a command's help, in Typer's rich style when that is on."""
    if formatter.getvalue():  # click's plain help (no rich): one more section
        with formatter.section(title):
            formatter.write_dl(rows)
        return
    from rich.console import Console, Group
    from rich.markup import escape
    from rich.padding import Padding
    from rich.panel import Panel
    from rich.text import Text

    parts: list[Any] = []
    for head, doc in rows:
        parts.append(Text(head, style="bold cyan"))
        if doc:
            parts.append(Padding(Text(" ".join(doc.split())), (0, 0, 0, 4)))
    Console().print(Panel(Group(*parts), title=escape(title), title_align="left", border_style="dim"))


def config_command(fields: Callable[[Any], tuple[str, list[tuple[str, str]]] | None]) -> type:
    """A Typer command class whose `--help` ends with `fields(ctx)` (computed only then)."""

    class ConfigCommand(TyperCommand):
        def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
            ctx.meta["mesalab.argv"] = list(args)  # the help of `sweep NAME --help` reads NAME
            return super().parse_args(ctx, args)

        def format_help(self, ctx: Any, formatter: Any) -> None:
            super().format_help(ctx, formatter)
            listed = fields(ctx)
            if listed is not None:
                print_fields(formatter, *listed)

    return ConfigCommand


def flagship_command(name: str) -> type:
    """The command class of `mesalab run NAME`: its help lists the experiment's fields."""

    def fields(ctx: Any) -> tuple[str, list[tuple[str, str]]]:
        configs = FLAGSHIPS[name]()
        return "Config fields (--set FIELD=VALUE)", fields_text(configs.default, configs.quick)

    return config_command(fields)


def set_option() -> Any:
    """The `--set` option, the same on every command that takes it."""
    return typer.Option([], "--set", metavar="FIELD=VALUE", help=SET_HELP)


def sweep_command() -> type:
    """The command class of `sweep` and `tune`: `NAME --help` lists that experiment's fields."""

    def fields(ctx: Any) -> tuple[str, list[tuple[str, str]]]:
        import mesalab.experiments  # noqa: F401  the flagships register their sweep trials
        from mesalab.sweep.experiment import get_sweep_experiment, sweep_experiment_names

        names = sweep_experiment_names()
        given = [a for a in ctx.meta.get("mesalab.argv", []) if a in names]
        if not given:
            rows = [(name, get_sweep_experiment(name).description) for name in names]
            return "Sweep experiments (`sweep NAME --help` lists the fields of NAME)", rows
        exp = get_sweep_experiment(given[0])
        return f"Config fields of {exp.name} (--set FIELD=VALUE, --axis FIELD=V1,V2)", fields_text(exp.config)

    return config_command(fields)


def world_command() -> type:
    """The command class of `worlds show`: `show NAME --help` lists NAME's spec fields."""

    def fields(ctx: Any) -> tuple[str, list[tuple[str, str]]]:
        from mesalab.envs.gridworld import DISTRIBUTIONS, get_distribution

        given = [a for a in ctx.meta.get("mesalab.argv", []) if a in DISTRIBUTIONS]
        name = given[0] if given else "red-door/train"
        return f"Spec fields of {name} (--set FIELD=VALUE)", fields_text(get_distribution(name))

    return config_command(fields)


def out_option(help: str = "Folder that holds run folders.") -> Any:
    """`--out`, the root of new run folders (default `runs`)."""
    return typer.Option(Path("runs"), "--out", help=help)


def resume_option() -> Any:
    """`--resume` of a flagship: a run folder (or its name) to finish."""
    return typer.Option(None, "--resume", help="Finish an interrupted run (its folder or name).")


def device_option() -> Any:
    """`--device`, the same on every command that trains or runs a model."""
    return typer.Option(None, "--device", help="cpu, cuda, cuda:1 (default: CUDA when present).")


def threads_option() -> Any:
    """`--threads`, the same on every command: unset means `$MESALAB_THREADS`, else 1."""
    return typer.Option(
        None, "--threads", help="Torch intra-op threads.", show_default="$MESALAB_THREADS, else 1"
    )
