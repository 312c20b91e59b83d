"""`mesalab runs`, `mesalab show RUN`, `mesalab assess MODEL --world NAME`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from mesalab.cli.app import app
from mesalab.cli.progress import progress_option
from mesalab.cli.settings import threads_option
from mesalab.store.runs import finite


@app.command("runs")
def list_run_folders(
    root: Path = typer.Option(Path("runs"), "--root", help="Folder that holds run folders."),
    sweep: str | None = typer.Option(
        None, "--sweep", help="Only this sweep's trials (its folder name, or a path to it)."
    ),
    where: list[str] = typer.Option(
        [], "--where", help="KEY=VALUE on a column (config field, param or result); repeatable."
    ),
    export: Path | None = typer.Option(
        None, "--export", help="Also write the table to FILE.csv or FILE.parquet."
    ),
) -> None:
    """List run folders, oldest first, with their experiment and whether they finished.

    With --sweep, --where or --export: the results index as a table, rebuilt from the folders.
    """
    from mesalab.store import list_runs

    if sweep is not None or where or export is not None:
        _print_index(root, sweep, where, export)
        return
    records = list_runs(root)
    if not records:
        typer.echo(f"no runs under {root}")
        return
    from mesalab.cli.tables import print_table

    print_table(["run", "kind", "experiment", "state", "created"], run_rows(records))


def run_rows(records: list[Any]) -> list[list[str]]:
    """One row per run folder, and one per sweep (or tune) folder with its trials counted.

    A folder of trial runs without its `sweep.json` (or `tune.json`) is an unfinished sweep.
    """
    rows: list[list[str]] = []
    sweeps: dict[Path, list[Any]] = {}
    for record in records:
        parent = record.path.parent
        if (record.path / "trial.json").exists() or _marker(parent):
            sweeps.setdefault(parent, []).append(record)
            continue
        rows.append(
            [
                record.name,
                "run",
                record.experiment,
                "finished" if record.finished else "unfinished",
                record.created,
            ]
        )
    for folder, trials in sweeps.items():
        marker = _marker(folder)
        done = sum(t.finished for t in trials)
        state = "finished" if marker and done == len(trials) else "unfinished"
        detail = f"{state} ({done}/{len(trials)} trials)" + ("" if marker else ", no sweep.json")
        kind = "tune" if marker and marker.name == "tune.json" else "sweep"
        rows.append([folder.name, kind, trials[0].experiment, detail, min(t.created for t in trials)])
    return sorted(rows, key=lambda r: r[4])


def _marker(folder: Path) -> Path | None:
    for name in ("sweep.json", "tune.json"):
        if (folder / name).exists():
            return folder / name
    return None


def _print_index(root: Path, sweep: str | None, where: list[str], export: Path | None) -> None:
    from mesalab.errors import MesalabError
    from mesalab.sweep.index import runs_index, sweep_table, write_table
    from mesalab.sweep.index import where as filter_rows

    if sweep is not None:
        folder = Path(sweep) if (Path(sweep) / "sweep.json").exists() else root / sweep
        if not (folder / "sweep.json").exists():
            raise MesalabError(f"sweep {sweep!r} not found under {root} (no sweep.json in {folder})")
        frame = filter_rows(sweep_table(folder), where)
        hidden = {"trial_dir", "seed_index"}
    else:
        frame = filter_rows(runs_index(root), where)
        hidden = {"path", "created"}
    if export is not None:
        write_table(frame, export)
    if not len(frame):
        typer.echo("no matching runs")
    else:
        shown = [c for c in frame.columns if c not in hidden and frame[c].notna().any()]
        if sweep is None:  # config columns are many: the leading ones, then the --where keys
            keys = [k.partition("=")[0].strip() for k in where]
            shown = shown[:7] + [k for k in keys if k not in shown[:7]]
        typer.echo(frame[shown].to_string(index=False, max_colwidth=40))
    if export is not None:
        typer.echo(f"wrote {export}")


@app.command("show")
def show_run(
    run: str = typer.Argument(..., help="Run folder, or its name under --root."),
    root: Path = typer.Option(Path("runs"), "--root", help="Folder that holds run folders."),
) -> None:
    """Print a finished run's results as a table."""
    from mesalab.store import find_run

    print_results(find_run(run, root))


def print_results(run_dir: Path) -> None:
    """The results table of a run folder (red-door layout; other experiments print their summary)."""
    from mesalab.errors import MesalabError
    from mesalab.store import read_json

    path = run_dir / "results.json"
    if not path.exists():
        raise MesalabError(f"{run_dir}: no results.json (unfinished run; finish it with --resume)")
    results = read_json(path)
    from mesalab.cli.tables import console, print_table

    if "arms" not in results:
        from mesalab.cli.show import results_tables

        out = console()
        for part in results_tables(results):
            out.print(part)
        return
    rows = []
    for arm, arm_result in results["arms"].items():
        for seed, seed_result in arm_result["seeds"].items():
            for name, entry in seed_result["distributions"].items():
                if not name.startswith("_"):
                    rows.append(_row(arm, seed, name, entry))
    print_table(["arm", "seed", "distribution", "success [95% CI]", "inferred", "verdict"], rows)


def _row(arm: str, seed: str, name: str, entry: dict[str, Any]) -> list[str]:
    s = entry["success"]
    ci = f"{s['rate']:.0%} [{s['low']:.0%},{s['high']:.0%}]"
    verdict = entry.get("verdict", {}).get("text", "(training distribution)")
    return [arm, seed, name, ci, entry["inference"]["best"], verdict]


@app.command("assess")
def assess_model(
    model: Path = typer.Argument(..., help="A saved policy: NAME.safetensors beside NAME.json."),
    world: str = typer.Option("red-door/deploy", "--world", help="Distribution to assess on."),
    baseline: str | None = typer.Option(
        None, "--baseline", help="Distribution whose success counts as 'training' (default: the model's own)."
    ),
    episodes: int = typer.Option(300, "--episodes", help="Episodes per distribution."),
    seed: int = typer.Option(0, "--seed", help="Seed of the assessment."),
    layout_seed: int = typer.Option(1000, "--layout-seed", help="Layout bank of the assessment mazes."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
    threads: int | None = threads_option(),
    progress: bool = progress_option(),
) -> None:
    """Roll a saved policy out on a distribution, infer its objective and give the verdict."""
    from mesalab.config import check
    from mesalab.envs.gridworld import get_distribution
    from mesalab.errors import MesalabError
    from mesalab.models.io import load_model
    from mesalab.runtime import configure
    from mesalab.shift import judge

    configure(threads)
    check(episodes >= 1, "episodes", f"must be >= 1, got {episodes}")
    spec = get_distribution(world)
    policy, meta = load_model(model)
    cfg = getattr(policy, "cfg", None)
    obs_mode = getattr(cfg, "obs_mode", "symbolic")
    if getattr(cfg, "size", spec.size) != spec.size:
        raise MesalabError(f"{model}: built for size {cfg.size} mazes, {world} has size {spec.size}")  # type: ignore[union-attr]
    reference = baseline or meta.get("trained_on") or "red-door/train"
    from mesalab.cli.progress import Stages

    stages = Stages(1, "assess", progress and not as_json)
    stages(f"{episodes} episodes on {reference} and {world}, then the objective inference")
    try:
        judged = judge(policy, reference, [world], episodes, seed, obs_mode=obs_mode, layout_seed=layout_seed)
    finally:
        stages.close()
    base, shifted = judged.assessments[reference], judged.assessments[world]
    inference, verdict = judged.inferences[world], judged.verdicts[world]
    result = {
        "model": str(model),
        "baseline": {reference: base.summary()},
        "world": shifted.summary(),
        "inference": inference.to_dict(),
        "verdict": verdict.to_dict(),
    }
    if as_json:
        typer.echo(json.dumps(finite(result), indent=2, allow_nan=False))
        return
    s = shifted.success()
    typer.echo(
        f"{world}: success {s['rate']:.0%} [{s['low']:.0%}, {s['high']:.0%}] over {s['n']} episodes "
        f"(baseline {reference}: {base.success()['rate']:.0%})"
    )
    from mesalab.cli.tables import print_table

    ranking = [[r["objective"], f"{r['per_step']:.3f}", f"{r['beta']:.2f}"] for r in inference.ranking]
    print_table(["inferred objective", "log-likelihood per step", "beta"], ranking)
    typer.echo(
        f"verdict: {verdict.text}" + (f", {verdict.confidence_text}" if verdict.confidence_text else "")
    )
    typer.echo(f"  {verdict.reason}")
    if verdict.numbers.get("unlisted"):
        goal = verdict.numbers["unlisted"]
        typer.echo(
            f"  unlisted goal: cell (row {goal['row']}, col {goal['col']}), "
            f"{goal['share_ending_there']:.0%} of episodes end there"
        )
    from mesalab.shift.features import end_cell_table, feature_table

    known = inference.to_dict()
    for headers, rows in (feature_table(known), end_cell_table(known)):
        if rows:
            print_table(headers, rows)
