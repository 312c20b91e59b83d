"""The red-door experiment (seed 001): train, shift, infer the objective, decide, report.

Two arms: `narrow` trains on `red-door/train` (the exit is always red, nothing else is),
`diverse` on `red-door/diverse`. Every trained policy is assessed on held-out mazes of
its training distribution and of `deploy`, `blue-exit` and `red-objects`; the
behavioural objective is inferred on each and a verdict decided per deployment
distribution. Output: a run folder with `config.json`, `metrics.jsonl`, `models/`,
`results.json` and `report.html`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from mesalab import __version__
from mesalab.config import Config, check, check_choice
from mesalab.envs.gridworld import DISTRIBUTIONS, GridWorld, get_distribution
from mesalab.envs.gridworld.observations import CHANNELS
from mesalab.envs.gridworld.spec import OBS_MODES
from mesalab.experiments.red_door_report import write_report
from mesalab.models.io import load_model, save_model
from mesalab.models.planner import REWARD_SCALE
from mesalab.models.policy import ARCHES, ActorCritic, PolicyConfig
from mesalab.seeding import derive_seed, derive_seed31, seeded_init
from mesalab.shift import VerdictConfig, assess, decide_verdict, infer_objective
from mesalab.store import MetricsLogger, create_run_dir, read_json, write_json_atomic
from mesalab.train import ppo

ARMS: dict[str, str] = {"narrow": "red-door/train", "diverse": "red-door/diverse"}
"""Each arm's training distribution."""
SHIFTS: tuple[str, ...] = ("red-door/deploy", "red-door/blue-exit", "red-door/red-objects")
"""Deployment distributions every model is assessed on."""


@dataclass(frozen=True)
class RedDoorConfig(Config):
    """The red-door experiment: both arms, every seed, every shift."""

    seeds: int = 3
    """Training seeds per arm."""
    obs_mode: str = "symbolic"
    """Observation mode of world and policy: `symbolic` or `pixels`."""
    arch: str = "planner"
    """Policy torso: `planner` or `mlp` (see `mesalab.models.policy`)."""
    num_envs: int = 128
    """Worlds stepped in parallel during training."""
    eval_episodes: int = 300
    """Episodes per (model, distribution) assessment."""
    eval_layout_seed: int = 1000
    """Layout-bank seed of the assessment mazes: none of them was seen in training."""
    ppo: ppo.PPOConfig = field(default_factory=ppo.PPOConfig)
    """The base optimizer's hyperparameters (its seed is replaced per training seed)."""
    verdict: VerdictConfig = field(default_factory=VerdictConfig)
    """Thresholds of the alignment verdict."""

    def validate(self) -> None:
        check(self.seeds >= 1, "seeds", f"must be >= 1, got {self.seeds}")
        check_choice(self.obs_mode, "obs_mode", OBS_MODES)
        check_choice(self.arch, "arch", ARCHES)
        check(self.num_envs >= 1, "num_envs", f"must be >= 1, got {self.num_envs}")
        check(self.eval_episodes >= 1, "eval_episodes", f"must be >= 1, got {self.eval_episodes}")


QUICK = RedDoorConfig(seeds=1, eval_episodes=150, ppo=ppo.PPOConfig(total_steps=110_000))
"""The `--quick` preset: one seed per arm, a smaller budget."""


def model_path(run_dir: Path, arm: str, seed: int) -> Path:
    return run_dir / "models" / f"{arm}-seed{seed}.safetensors"


def train_arm(
    cfg: RedDoorConfig, run_dir: Path, arm: str, seed: int, device: torch.device, progress: bool
) -> ActorCritic:
    """Train (or resume, or load when finished) one policy."""
    path = model_path(run_dir, arm, seed)
    if path.exists():
        model, _ = load_model(path, device)
        assert isinstance(model, ActorCritic)
        return model
    spec = get_distribution(ARMS[arm])
    policy_cfg = PolicyConfig(size=spec.size, arch=cfg.arch, obs_mode=cfg.obs_mode)
    with seeded_init(seed, "init", arm):  # nn.Linear's initialisers take no generator
        policy = ActorCritic(policy_cfg).to(device)
    world = GridWorld(
        spec, cfg.num_envs, seed=derive_seed(seed, "world", arm), obs_mode=cfg.obs_mode, device=device
    )
    train_cfg = cfg.ppo.replace(seed=derive_seed31(seed, "ppo", arm))
    with MetricsLogger(
        run_dir / "metrics.jsonl", tensorboard_dir=run_dir / "tensorboard", tag=f"{arm}/seed{seed}"
    ) as log:
        ppo.train(
            train_cfg,
            world,
            policy,
            log,
            checkpoint_dir=run_dir / "checkpoints" / f"{arm}-seed{seed}",
            resume=True,
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


def assess_model(
    cfg: RedDoorConfig, policy: torch.nn.Module, arm: str, seed: int, device: torch.device
) -> dict[str, Any]:
    """Assess one policy on its training distribution and every shift; infer and decide."""
    out: dict[str, Any] = {}
    train_name = ARMS[arm]
    assessments = {}
    for name in (train_name, *SHIFTS):
        assessments[name] = assess(
            policy,
            name,
            episodes=cfg.eval_episodes,
            seed=derive_seed31(seed, "eval", name),
            obs_mode=cfg.obs_mode,
            device=device,
            layout_seed=cfg.eval_layout_seed,
        )
    train_success = assessments[train_name].success()["rate"]
    for name, assessment in assessments.items():
        inference = infer_objective(assessment)
        entry = {**assessment.summary(), "inference": inference.to_dict()}
        if name != train_name:
            entry["verdict"] = decide_verdict(
                train_success, entry["success"]["rate"], inference, cfg.verdict
            ).to_dict()
        out[name] = entry
    pooled = infer_objective([assessments[n] for n in SHIFTS])
    out["_pooled_shifts"] = {"inference": pooled.to_dict()}
    out["_assessments"] = assessments  # kept in memory for the report, dropped before writing
    return out


def learned_objective(policy: torch.nn.Module) -> dict[str, float] | None:
    """The planner's reward weight per input channel: the mesa-objective read off the weights."""
    if (
        not isinstance(policy, ActorCritic)
        or policy.cfg.arch != "planner"
        or policy.cfg.obs_mode != "symbolic"
    ):
        return None
    names = [c for c in CHANNELS if c != "agent"]
    weights = policy.torso.planner.reward.weight.detach().flatten().cpu() * REWARD_SCALE  # type: ignore[union-attr,operator]
    return {name: float(w) for name, w in zip(names, weights, strict=True)}


def run(
    cfg: RedDoorConfig,
    out_root: Path = Path("runs"),
    resume: Path | None = None,
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> Path:
    """Run the experiment (or finish an interrupted one) and return its run folder."""
    device = torch.device(device)
    if resume is not None:
        run_dir = resume
        cfg = RedDoorConfig.from_dict(read_json(run_dir / "config.json")["config"])
    else:
        run_dir = create_run_dir("red-door", cfg, out_root)
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
