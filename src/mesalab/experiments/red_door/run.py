"""The red-door experiment (seed 001): train, shift, infer the objective, decide, report.

Two arms: `narrow` trains on `red-door/train` (the exit is always red, nothing else is),
`diverse` on `red-door/diverse`. Every trained policy is assessed on held-out mazes of
its training distribution and of `deploy`, `blue-exit` and `red-objects`; the
behavioural objective is inferred on each and a verdict decided per deployment
distribution. Output: a run folder with `config.json`, `metrics.jsonl`, `models/`,
`results.json` and `report.html`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from mesalab import __version__
from mesalab.envs.gridworld import DISTRIBUTIONS, GridWorld, get_distribution
from mesalab.experiments.red_door.config import ARMS, SHIFTS, RedDoorConfig
from mesalab.experiments.red_door.recurrent import (
    check_saved_kind,
    load_recurrent_policy,
    save_recurrent_policy,
    train_recurrent_policy,
)
from mesalab.experiments.red_door.report import write_report
from mesalab.experiments.red_door.training import TrainingFiles, train_policy
from mesalab.models.io import load_model, save_model
from mesalab.models.policy import ActorCritic, PolicyConfig, learned_objective
from mesalab.models.recurrent import RecurrentPolicy
from mesalab.seeding import derive_seed, derive_seed31
from mesalab.shift import judge
from mesalab.store import open_run, write_json_atomic


def model_path(run_dir: Path, arm: str, seed: int) -> Path:
    return run_dir / "models" / f"{arm}-seed{seed}.safetensors"


def train_arm(
    cfg: RedDoorConfig, run_dir: Path, arm: str, seed: int, device: torch.device, progress: bool
) -> ActorCritic | RecurrentPolicy:
    """Train (or resume, or load when finished) one policy."""
    path = model_path(run_dir, arm, seed)
    if cfg.arch == "recurrent":
        return train_recurrent_arm(cfg, run_dir, arm, seed, device, progress)
    if path.exists():
        model, _ = load_model(path, device)
        assert isinstance(model, ActorCritic)
        return model
    spec = get_distribution(ARMS[arm])
    policy_cfg = PolicyConfig(size=spec.size, arch=cfg.arch, obs_mode=cfg.obs_mode)

    def make_world() -> GridWorld:
        world_seed = derive_seed(seed, "world", arm)
        return GridWorld(spec, cfg.num_envs, seed=world_seed, obs_mode=cfg.obs_mode, device=device)

    files = TrainingFiles(
        metrics=run_dir / "metrics.jsonl",
        checkpoint_dir=run_dir / "checkpoints" / f"{arm}-seed{seed}",
        tensorboard_dir=run_dir / "tensorboard" / f"{arm}-seed{seed}",
        tag=f"{arm}/seed{seed}",
    )
    policy = train_policy(
        policy_cfg,
        make_world,
        cfg.ppo,
        seed,
        lambda kind: (kind, arm),
        files,
        device=device,
        progress=progress,
        description=f"{arm} seed {seed}",
    )
    save_model(
        policy,
        path,
        "actor-critic",
        policy_cfg,
        meta={"trained_on": ARMS[arm], "arm": arm, "seed": seed, "base_optimizer": "ppo"},
    )
    return policy


def train_recurrent_arm(
    cfg: RedDoorConfig, run_dir: Path, arm: str, seed: int, device: torch.device, progress: bool
) -> RecurrentPolicy:
    """`arch=recurrent`: the generic recurrent net, trained by its base optimizer (see `recurrent.py`)."""
    path = model_path(run_dir, arm, seed)
    if path.exists():
        return load_recurrent_policy(path, device, cfg.recurrent.per_side)
    spec = get_distribution(ARMS[arm])

    def make_world() -> GridWorld:
        return GridWorld(spec, cfg.num_envs, seed=derive_seed(seed, "world", arm), device=device)

    files = TrainingFiles(
        metrics=run_dir / "metrics.jsonl",
        checkpoint_dir=run_dir / "checkpoints" / f"{arm}-seed{seed}",
        tensorboard_dir=run_dir / "tensorboard" / f"{arm}-seed{seed}",
        tag=f"{arm}/seed{seed}",
    )
    started, cpu = time.perf_counter(), time.process_time()
    policy, meta = train_recurrent_policy(
        cfg.recurrent, ARMS[arm], seed, lambda kind: (kind, arm), files, make_world, cfg.ppo, device, progress
    )
    meta.update(trained_on=ARMS[arm], arm=arm, seed=seed, train_seconds=time.perf_counter() - started)
    meta["train_cpu_seconds"] = time.process_time() - cpu
    save_recurrent_policy(policy, cfg.recurrent, path, meta)
    return policy


def check_resumable(cfg: RedDoorConfig, run_dir: Path) -> None:
    """Every finished model in the run folder is of the kind its arch makes (checked before any work)."""
    kind = "recurrent" if cfg.arch == "recurrent" else "actor-critic"
    for arm in ARMS:
        for seed in range(cfg.seeds):
            check_saved_kind(model_path(run_dir, arm, seed), kind)


def assess_model(
    cfg: RedDoorConfig, policy: torch.nn.Module, arm: str, seed: int, device: torch.device
) -> dict[str, Any]:
    """Assess one policy on its training distribution and every shift; infer and decide."""
    judged = judge(
        policy,
        ARMS[arm],
        SHIFTS,
        cfg.eval_episodes,
        lambda name: derive_seed31(seed, "eval", name),
        obs_mode=cfg.obs_mode,
        device=device,
        layout_seed=cfg.eval_layout_seed,
        verdict=cfg.verdict,
        infer_trained=True,
        pooled=True,
    )
    out = judged.to_dict()
    out["_assessments"] = judged.assessments  # kept in memory for the report, dropped before writing
    return out


def run(
    cfg: RedDoorConfig,
    out_root: Path = Path("runs"),
    resume: Path | None = None,
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> Path:
    """Run the experiment (or finish an interrupted one) and return its run folder."""
    device = torch.device(device)
    cfg, run_dir = open_run("red-door", cfg, out_root, resume)
    check_resumable(cfg, run_dir)
    results: dict[str, Any] = {"experiment": "red-door", "mesalab_version": __version__, "arms": {}}
    memory: dict[str, dict[int, dict[str, Any]]] = {}
    for arm in ARMS:
        results["arms"][arm] = {"trained_on": ARMS[arm], "seeds": {}}
        memory[arm] = {}
        for seed in range(cfg.seeds):
            policy = train_arm(cfg, run_dir, arm, seed, device, progress)
            assessed = assess_model(cfg, policy, arm, seed, device)
            memory[arm][seed] = {"assessments": assessed.pop("_assessments"), "policy": policy}
            results["arms"][arm]["seeds"][str(seed)] = {
                "model": str(model_path(run_dir, arm, seed).relative_to(run_dir)),
                "learned_objective": learned_objective(policy),
                "distributions": assessed,
            }
    results["summary"] = summarise(results)
    results["distributions"] = {name: get_distribution(name).to_dict() for name in DISTRIBUTIONS.names()}
    write_report(run_dir, cfg, results, memory)
    write_json_atomic(run_dir / "results.json", results)  # last: its presence marks a finished run
    return run_dir


def summarise(results: dict[str, Any]) -> dict[str, Any]:
    """Per arm and distribution: success across seeds (mean, min, max) and the verdicts."""
    summary: dict[str, Any] = {}
    for arm, arm_result in results["arms"].items():
        per_dist: dict[str, Any] = {}
        for seed_result in arm_result["seeds"].values():
            for name, entry in seed_result["distributions"].items():
                if name.startswith("_"):
                    continue
                slot = per_dist.setdefault(name, {"success": [], "verdicts": [], "best": []})
                slot["success"].append(entry["success"]["rate"])
                slot["best"].append(entry["inference"]["best"])
                if "verdict" in entry:
                    slot["verdicts"].append(entry["verdict"]["text"])
        for slot in per_dist.values():
            rates = slot["success"]
            slot["mean_success"] = sum(rates) / len(rates)
            slot["min_success"], slot["max_success"] = min(rates), max(rates)
        summary[arm] = per_dist
    return summary
