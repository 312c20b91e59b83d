"""think-longer (Schwarzschild et al. 2021, Bansal et al. 2022): does a generic net learn to search?

1. Train a weight-tied recurrent conv net (`models/recurrent.py`) on small `red-door/train`
   mazes from the BFS oracle, saving snapshots along the way; train a contrast net on
   `red-door/diverse`.
2. Run it longer: greedy success on held-out mazes of growing size over a grid of T, and the
   overthinking check at 4x the T each size needs.
3. Catch it searching: linear probes of the hidden state per iteration (`probe.py`).
4. When does it arise: every snapshot's big-maze success at the training T and at 4x the
   side, and its probe accuracy.
5. The shift: both nets as policies on `red-door/deploy`, `blue-exit`, `red-objects`, with
   the inferred objective and the verdict (`mesalab.shift`, as the red-door experiment).

Output: a run folder with `config.json`, `metrics.jsonl`, `models/`, `results.json` (last)
and `report.html`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from mesalab import __version__
from mesalab.errors import MesalabError
from mesalab.experiments.red_door.recurrent import check_saved_kind
from mesalab.experiments.think_longer.config import ThinkLongerConfig
from mesalab.experiments.think_longer.evaluate import (
    few_and_many,
    needed_t,
    overthinking,
    success_by_t,
    t_grid,
)
from mesalab.experiments.think_longer.probe import probe_study
from mesalab.experiments.think_longer.report import write_report
from mesalab.models.io import load_model, read_model_meta, save_model
from mesalab.models.recurrent import RecurrentMazeNet, RecurrentPolicy
from mesalab.seeding import derive_seed, derive_seed31, seeded_init
from mesalab.shift import judge
from mesalab.store import MetricsLogger, open_run, write_json_atomic
from mesalab.train import maze_supervised

EXPERIMENT = "think-longer"
ARMS = ("narrow", "diverse")
"""`narrow` trains on `cfg.train.distribution`, `diverse` on `cfg.contrast_distribution`."""


def model_path(run_dir: Path, arm: str) -> Path:
    return run_dir / "models" / f"{arm}.safetensors"


def snapshot_path(run_dir: Path, step: int) -> Path:
    """Snapshots live under `checkpoints/` so the zoo does not take them for finished models."""
    return run_dir / "checkpoints" / "narrow" / "snapshots" / f"step{step:07d}.safetensors"


def snapshot_steps(cfg: ThinkLongerConfig) -> list[int]:
    """Training steps at which the main model is saved for the emergence curve (the last included)."""
    if cfg.curve_points == 0:
        return []
    total = cfg.train.steps
    return sorted({max(1, round(total * (i + 1) / cfg.curve_points)) for i in range(cfg.curve_points)})


def load_net(path: Path, device: torch.device) -> RecurrentMazeNet:
    """A saved recurrent net; a model of another kind is refused."""
    kind = read_model_meta(path).get("kind")
    if kind != "recurrent":
        raise MesalabError(f"{path}: a model of kind {kind!r}, not 'recurrent'")
    net, _ = load_model(path, device)
    assert isinstance(net, RecurrentMazeNet)
    return net


def train_arm(
    cfg: ThinkLongerConfig, run_dir: Path, arm: str, device: torch.device, progress: bool
) -> tuple[RecurrentMazeNet, dict[str, Any]]:
    """Train (or resume, or load when finished) one net; returns it and its saved metadata
    (`train_seconds`; `kept_step` and `kept_score` when a snapshot was selected)."""
    path = model_path(run_dir, arm)
    if path.exists():
        return load_net(path, device), read_model_meta(path)
    train_cfg = cfg.train.replace(seed=derive_seed(cfg.seed, "train", arm) % (2**31))
    if arm != "narrow":
        train_cfg = contrast_recipe(cfg, train_cfg)
    with seeded_init(cfg.seed, "init", arm):  # nn.Conv2d's initialisers take no generator
        net = RecurrentMazeNet(cfg.model).to(device)
    snapshots = set(snapshot_steps(cfg)) if arm == "narrow" else set()

    def snapshot(step: int) -> None:
        if step in snapshots:
            save_model(net, snapshot_path(run_dir, step), "recurrent", cfg.model, meta={"step": step})

    started = time.perf_counter()
    with MetricsLogger(run_dir / "metrics.jsonl", tag=arm) as log:
        last = maze_supervised.train(
            train_cfg,
            net,
            log,
            checkpoint_dir=run_dir / "checkpoints" / arm,
            resume=True,
            progress=progress,
            on_step=snapshot,
        )
    seconds = time.perf_counter() - started
    meta: dict[str, Any] = {
        "trained_on": train_cfg.distribution,
        "arm": arm,
        "base_optimizer": "maze-supervised",
        "train_seconds": seconds,
    }
    if "select/best_step" in last:
        meta.update({"kept_step": int(last["select/best_step"]), "kept_score": last["select/best_score"]})
    save_model(net, path, "recurrent", cfg.model, meta=meta)
    return net, meta


def contrast_recipe(
    cfg: ThinkLongerConfig, train_cfg: maze_supervised.MazeSupervisedConfig
) -> maze_supervised.MazeSupervisedConfig:
    """The contrast net's base optimizer: the main recipe on `contrast_distribution` for
    `contrast_steps` on its own small sizes and batch, without a long prefix, hidden-exit
    prefixes or snapshot selection (where the main recipe sets them: they serve running longer
    on big mazes); the contrast is only judged as a policy on 11x11 mazes at 4 x side."""
    return train_cfg.replace(
        distribution=cfg.contrast_distribution,
        steps=cfg.contrast_steps,
        sizes=cfg.contrast_sizes,
        batch_size=cfg.contrast_batch_size,
        prefix_per_side=0.0,
        blind_fraction=0.0,
        select_size=0,
    )


def evaluate_sizes(cfg: ThinkLongerConfig, net: RecurrentMazeNet) -> dict[str, Any]:
    """Success vs T per size, the T each size needs, and the overthinking check. The training T
    joins the grid of sizes above the training sizes only: below, it is at least the T they need
    and the overthinking check already runs them long."""
    training_t = cfg.train.training_t
    sizes: dict[str, Any] = {}
    checks: dict[str, Any] = {}
    for size, episodes in cfg.eval_grid:
        grid = t_grid(size, cfg.per_side, training_t if size > max(cfg.train.sizes) else None)
        result, _ = success_by_t(
            net,
            size,
            grid,
            episodes,
            cfg.eval_layout_seed,
            cfg.seed,
            cfg.train.distribution,
            cfg.steps_per_side,
        )
        entry = result.to_dict()
        entry["needed_t"] = needed_t(result)
        entry["best"] = max(s["rate"] for s in result.success.values())
        sizes[str(size)] = entry
        if size <= cfg.overthinking_max_size:
            checks[str(size)] = overthinking(
                net,
                size,
                entry["needed_t"],
                min(cfg.overthinking_episodes, episodes),
                cfg.eval_layout_seed,
                cfg.seed,
                cfg.train.distribution,
                cfg.overthinking_factor,
                cfg.steps_per_side,
            )
    return {"training_t": training_t, "sizes": sizes, "overthinking": checks}


def emergence_curve(cfg: ThinkLongerConfig, run_dir: Path, device: torch.device) -> list[dict[str, Any]]:
    """Per snapshot: success at the curve size with T = the side and 4x the side; probes."""
    rows = []
    few, many = few_and_many(cfg.curve_size)
    with seeded_init(cfg.seed, "control"):
        control = RecurrentMazeNet(cfg.model).to(device).eval()
    for step in snapshot_steps(cfg):
        net = load_net(snapshot_path(run_dir, step), device)
        result, _ = success_by_t(
            net, cfg.curve_size, [few, many], cfg.curve_episodes, cfg.eval_layout_seed, cfg.seed,
            cfg.train.distribution, cfg.steps_per_side,
        )  # fmt: skip
        probe, _, _ = probe_study(
            net, control, cfg.probe_fit_size, cfg.curve_size, max(cfg.probe_fit_mazes // 2, 4), 4,
            cfg.eval_layout_seed + 7, cfg.seed, cfg.train.distribution,
        )  # fmt: skip
        rows.append(
            {
                "step": step,
                "few_t": few,
                "many_t": many,
                "success_few": result.rate(few),
                "success_many": result.rate(many),
                "probe": {h: sum(a) / len(a) for h, a in probe["accuracy"].items()},
                "moves": {h: _nanmean(a) for h, a in probe["moves"].items()},
            }
        )
    return rows


def assess_shifts(
    cfg: ThinkLongerConfig, nets: dict[str, RecurrentMazeNet], device: torch.device
) -> dict[str, Any]:
    """Both nets as policies on their training distribution and every shift, judged by `shift.judge`."""
    trained_on = {"narrow": cfg.train.distribution, "diverse": cfg.contrast_distribution}
    out: dict[str, Any] = {}
    memory: dict[str, Any] = {}
    for arm, net in nets.items():
        judged = judge(
            RecurrentPolicy(net, per_side=cfg.shift_per_side),
            trained_on[arm],
            cfg.shifts,
            cfg.shift_episodes,
            lambda name: derive_seed31(cfg.seed, "eval", name),
            device=device,
            layout_seed=cfg.eval_layout_seed,
            verdict=cfg.verdict,
            infer_trained=True,
            pooled=True,
        )
        memory[arm] = judged.assessments
        out[arm] = judged.to_dict()
    return {"arms": out, "_memory": memory}


def run(
    cfg: ThinkLongerConfig,
    out_root: Path = Path("runs"),
    resume: Path | None = None,
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> Path:
    """Run the experiment (or finish an interrupted one) and return its run folder."""
    device = torch.device(device)
    cfg, run_dir = open_run(EXPERIMENT, cfg, out_root, resume)
    for arm in ARMS:  # a finished model of another kind is refused before any work
        check_saved_kind(model_path(run_dir, arm), "recurrent")
    timings: dict[str, float] = {}
    started = time.perf_counter()
    net, narrow = train_arm(cfg, run_dir, "narrow", device, progress)
    nets, trained = {"narrow": net}, {"narrow": narrow}
    if cfg.contrast_distribution:
        nets["diverse"], trained["diverse"] = train_arm(cfg, run_dir, "diverse", device, progress)
    for arm, meta in trained.items():
        timings[f"train_{arm}"] = float(meta.get("train_seconds", 0.0))
    mark = time.perf_counter()
    grid = evaluate_sizes(cfg, net)
    timings["evaluate"] = time.perf_counter() - mark
    mark = time.perf_counter()
    with seeded_init(cfg.seed, "control"):
        control = RecurrentMazeNet(cfg.model).to(device).eval()
    probe, probes, test_batch = probe_study(
        net, control, cfg.probe_fit_size, cfg.probe_test_size, cfg.probe_fit_mazes, cfg.probe_test_mazes,
        cfg.eval_layout_seed + 5, cfg.seed, cfg.train.distribution,
    )  # fmt: skip
    timings["probe"] = time.perf_counter() - mark
    mark = time.perf_counter()
    curve = emergence_curve(cfg, run_dir, device)
    timings["curve"] = time.perf_counter() - mark
    mark = time.perf_counter()
    shift = assess_shifts(cfg, nets, device)
    memory = shift.pop("_memory")
    timings["shift"] = time.perf_counter() - mark
    timings["total_this_process"] = time.perf_counter() - started
    results: dict[str, Any] = {
        "experiment": EXPERIMENT,
        "mesalab_version": __version__,
        "models": {arm: str(model_path(run_dir, arm).relative_to(run_dir)) for arm in nets},
        "grid": grid,
        "probe": probe,
        "curve": curve,
        "shift": shift,
        "timings_s": timings,
        "kept": {
            arm: {"step": meta["kept_step"], "score": meta["kept_score"]}
            for arm, meta in trained.items()
            if "kept_step" in meta
        },
        "threads": torch.get_num_threads(),
    }
    results["targets"] = targets(results)
    write_report(
        run_dir, cfg, results, {"net": net, "probes": probes, "test_batch": test_batch, "shift": memory}
    )
    write_json_atomic(run_dir / "results.json", results)  # last: its presence marks a finished run
    return run_dir


def _nanmean(values: list[float]) -> float:
    kept = [v for v in values if v == v]
    return sum(kept) / len(kept) if kept else float("nan")


def targets(results: dict[str, Any]) -> dict[str, Any]:
    """Issue 11's targets, each measured: the number, and whether it is met."""
    sizes, training_t = results["grid"]["sizes"], results["grid"]["training_t"]
    out: dict[str, Any] = {}
    smallest = min(sizes, key=int)
    out["training_size_best"] = {"size": int(smallest), "value": sizes[smallest]["best"], "target": ">= 0.99"}
    out["training_size_best"]["met"] = sizes[smallest]["best"] >= 0.99
    for size, goal in (("31", 0.95), ("63", 0.90)):
        if size in sizes:
            out[f"best_{size}"] = {
                "value": sizes[size]["best"],
                "target": f">= {goal}",
                "met": sizes[size]["best"] >= goal,
            }
    if "63" in sizes and str(training_t) in sizes["63"]["success"]:
        at_training = sizes["63"]["success"][str(training_t)]["rate"]
        out["63_at_training_t"] = {
            "t": training_t,
            "value": at_training,
            "target": "<= 0.30",
            "met": at_training <= 0.30,
        }
    checks = results["grid"]["overthinking"]
    if checks:
        worst = max(c["loss_points"] for c in checks.values())
        out["overthinking_worst_loss_points"] = {"value": worst, "target": "<= 2", "met": worst <= 2}
    return out
