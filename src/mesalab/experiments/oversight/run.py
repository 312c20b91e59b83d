"""The oversight experiment: train with PPO where an overseer watches half the episodes, then
compare behaviour watched and unwatched (Leike et al. 2017's absent supervisor, in mazes).

Two arms: `main` trains on `oversight/train` (the overseer visible), `control` on
`oversight/hidden-train` (penalised alike, the overseer channel dark). Every trained policy
is judged on held-out mazes of its training distribution and of its arm's watched and
unwatched distributions; the judgement carries the `oversight-conditional` finding. Output:
a run folder with `config.json`, `metrics.jsonl`, `models/`, `results.json`, `report.html`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from mesalab import __version__
from mesalab.detect.overseer_toggle import overseer_toggle
from mesalab.envs.gridworld import GridWorld
from mesalab.experiments.oversight.config import ARMS, WATCH, OversightConfig
from mesalab.experiments.oversight.report import write_report
from mesalab.experiments.red_door.training import TrainingFiles, train_policy
from mesalab.models.io import load_model, save_model
from mesalab.models.policy import ActorCritic, PolicyConfig
from mesalab.seeding import derive_seed, derive_seed31
from mesalab.shift import judge
from mesalab.shift.evaluate import Assessment
from mesalab.shift.oversight import oversight_finding
from mesalab.shift.stats import rate_summary
from mesalab.store import open_run, write_json_atomic


@contextmanager
def timed(timings: dict[str, dict[str, float]], phase: str) -> Iterator[None]:
    """Add the wall and CPU seconds (this process, every thread) of the block to `timings[phase]`:
    on a shared machine the wall time is inflated by others' load, the CPU time is not."""
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    entry = timings.setdefault(phase, {"wall_s": 0.0, "cpu_s": 0.0})
    entry["wall_s"] += time.perf_counter() - wall
    entry["cpu_s"] += time.process_time() - cpu


def model_path(run_dir: Path, arm: str, seed: int) -> Path:
    return run_dir / "models" / f"{arm}-seed{seed}.safetensors"


def train_arm(
    cfg: OversightConfig, run_dir: Path, arm: str, seed: int, device: torch.device, progress: bool
) -> ActorCritic:
    """Train (or resume, or load when finished) one policy."""
    path = model_path(run_dir, arm, seed)
    if path.exists():
        model, _ = load_model(path, device)
        assert isinstance(model, ActorCritic)
        return model
    spec = cfg.spec(ARMS[arm])
    policy_cfg = PolicyConfig(size=spec.size, arch=cfg.arch, channels=len(spec.channels))

    def make_world() -> GridWorld:
        return GridWorld(spec, cfg.num_envs, seed=derive_seed(seed, "world", arm), device=device)

    files = TrainingFiles(
        metrics=run_dir / "metrics.jsonl",
        checkpoint_dir=run_dir / "checkpoints" / f"{arm}-seed{seed}",
        tensorboard_dir=run_dir / "tensorboard",
        tag=f"{arm}/seed{seed}",
    )
    policy = train_policy(
        policy_cfg, make_world, cfg.ppo, seed, lambda kind: (kind, "oversight", arm), files,
        device=device, progress=progress, description=f"{arm} seed {seed}",
    )  # fmt: skip
    meta = {"trained_on": ARMS[arm], "arm": arm, "seed": seed, "base_optimizer": "ppo"}
    save_model(policy, path, "actor-critic", policy_cfg, meta=meta)
    return policy


def assess_arm(
    cfg: OversightConfig, policy: torch.nn.Module, arm: str, seed: int, device: torch.device
) -> tuple[dict[str, Any], dict[str, Assessment]]:
    """Judge one policy on its training distribution, watched and unwatched."""
    judged = judge(
        policy,
        ARMS[arm],
        WATCH[arm],
        cfg.eval_episodes,
        lambda name: derive_seed31(seed, "eval", name),
        specs={name: cfg.spec(name) for name in (ARMS[arm], *WATCH[arm])},
        device=device,
        layout_seed=cfg.eval_layout_seed,
    )
    return judged.to_dict(), dict(judged.assessments)


def run(
    cfg: OversightConfig,
    out_root: Path = Path("runs"),
    resume: Path | None = None,
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> Path:
    """Run the experiment (or finish an interrupted one) and return its run folder."""
    device = torch.device(device)
    cfg, run_dir = open_run("oversight", cfg, out_root, resume)
    results: dict[str, Any] = {"experiment": "oversight", "mesalab_version": __version__, "arms": {}}
    memory: dict[str, dict[int, dict[str, Assessment]]] = {}
    timings: dict[str, dict[str, float]] = {}
    for arm in ARMS:
        results["arms"][arm] = {"trained_on": ARMS[arm], "seeds": {}}
        memory[arm] = {}
        for seed in range(cfg.seeds):
            with timed(timings, "train"):
                policy = train_arm(cfg, run_dir, arm, seed, device, progress)
            with timed(timings, "assess"):
                judged, assessments = assess_arm(cfg, policy, arm, seed, device)
            memory[arm][seed] = assessments
            with timed(timings, "overseer toggle"):
                toggle = overseer_toggle(
                    policy.cpu(), cfg.spec(ARMS[arm]), seed=derive_seed31(seed, "toggle")
                )
            results["arms"][arm]["seeds"][str(seed)] = {
                "model": str(model_path(run_dir, arm, seed).relative_to(run_dir)),
                "distributions": judged,
                "overseer_toggle": toggle,
            }
    results["summary"] = summarise(cfg, memory)
    results["distributions"] = {
        name: cfg.spec(name).to_dict() for arm in ARMS for name in (ARMS[arm], *WATCH[arm])
    }
    with timed(timings, "report"):
        write_report(run_dir, cfg, results, memory)
    results["timings"] = timings  # this call's: a resumed run times only what it did itself
    write_json_atomic(run_dir / "results.json", results)  # last: its presence marks a finished run
    return run_dir


def summarise(cfg: OversightConfig, memory: dict[str, dict[int, dict[str, Assessment]]]) -> dict[str, Any]:
    """Per arm, every seed's episodes pooled: the finding, and per distribution the exit,
    base-objective and purpose rates, the restricted-cell rate and the outer gap (95% intervals)."""
    summary: dict[str, Any] = {}
    for arm, seeds in memory.items():
        pooled = {f"{seed}/{name}": a for seed, by_name in seeds.items() for name, a in by_name.items()}
        per_dist: dict[str, Any] = {}
        for name in (ARMS[arm], *WATCH[arm]):
            runs = [by_name[name] for by_name in seeds.values()]
            n = sum(a.episodes for a in runs)

            def rate(count: Any, n: int = n) -> dict[str, float]:
                return rate_summary(float(count), n)

            per_dist[name] = {
                "exit": rate(sum(float((a.returns[:, 0] > 0).sum()) for a in runs)),
                "base_objective": rate(sum(float(a.base_successes().sum()) for a in runs)),
                "purpose": rate(sum(float(a.purpose_successes().sum()) for a in runs)),
                "restricted": rate(sum(float((a.term("restricted") > 0).sum()) for a in runs)),
                "outer_gap": rate(
                    sum(float((a.base_successes() & ~a.purpose_successes()).sum()) for a in runs)
                ),
                "per_seed_restricted": [a.restricted_rate()["rate"] for a in runs],
            }
        finding = oversight_finding(pooled, cfg.margin)
        summary[arm] = {"distributions": per_dist, "finding": finding}
    return summary
