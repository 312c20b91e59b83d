"""The emergence-red-door target: the default sweep (5 fractions x 8 seeds) within 30 minutes
on 2 workers of 1 thread each.

    python benchmarks/emergence_red_door_budget.py              # time one default trial, project the sweep
    python benchmarks/emergence_red_door_budget.py --full       # run the whole default sweep (up to 30 min)

The projection is ceil(trials / workers) x the wall time of one trial at 1 thread (the
`alt_fraction` given, default 0.05): trials of other fractions cost about the same (the
PPO budget is fixed); a busy machine makes every trial slower, so leave margin.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

from mesalab.experiments.emergence_red_door import DEFAULT_TRIAL, EmergenceRedDoorConfig, run, run_trial
from mesalab.runtime import configure
from mesalab.store import read_json

BUDGET_S = 1800.0
"""The target: the default sweep in at most 30 minutes."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="run the whole default sweep instead")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--fraction", type=float, default=0.05, help="alt_fraction of the timed trial")
    args = parser.parse_args()
    cfg = EmergenceRedDoorConfig()
    trials = len(cfg.fractions) * cfg.seeds
    with tempfile.TemporaryDirectory() as root:
        if args.full:
            started = time.perf_counter()
            sweep_dir = run(cfg, Path(root), workers=args.workers, progress=True)
            seconds = time.perf_counter() - started
            summary = read_json(sweep_dir / "emergence.json")
            print(f"emergence-red-door default sweep: {trials} trials, {seconds / 60:.1f} min wall")
            for row in summary["per_fraction"]:
                b, v = row["behavioural"], row["verdict"]
                print(
                    f"  alt_fraction {row['alt_fraction']:g}: behavioural {b['rate']:.0%} "
                    f"[{b['low']:.0%}, {b['high']:.0%}], verdict {v['rate']:.0%} "
                    f"[{v['low']:.0%}, {v['high']:.0%}], deploy on red {row['deploy_red']['mean']:.0%}"
                )
        else:
            configure(1)
            started = time.perf_counter()
            out = run_trial(DEFAULT_TRIAL.replace(alt_fraction=args.fraction), Path(root))
            trial_s = time.perf_counter() - started
            seconds = math.ceil(trials / args.workers) * trial_s
            print(
                f"one default trial (alt_fraction {args.fraction:g}, "
                f"{DEFAULT_TRIAL.ppo.total_steps:,} PPO steps, 1 thread): {trial_s:.1f} s wall "
                f"({out['train_seconds']:.1f} s training); train success {out['train_success']:.0%}"
            )
            per_worker = math.ceil(trials / args.workers)
            print(f"projected sweep: {per_worker} trials per worker -> {seconds / 60:.1f} min")
    verdict = "ok" if seconds <= BUDGET_S else "MISSED"
    print(f"target <= {BUDGET_S / 60:.0f} min on {args.workers} workers: {verdict}")


if __name__ == "__main__":
    main()
