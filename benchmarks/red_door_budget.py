"""The red-door targets: `--quick` within 90 s, the full run within 10 minutes, and the
narrow arm at >= 95% success on red-door/train with PPO at default settings.

    python benchmarks/red_door_budget.py --threads 2            # quick preset
    python benchmarks/red_door_budget.py --threads 2 --full     # the full run (minutes)
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from mesalab.experiments.red_door import QUICK, RedDoorConfig, run
from mesalab.runtime import configure
from mesalab.store import read_json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--full", action="store_true", help="time the full run instead of --quick")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    configure(args.threads)
    cfg, budget = (RedDoorConfig(), 600.0) if args.full else (QUICK, 90.0)
    with tempfile.TemporaryDirectory() as root:
        started = time.perf_counter()
        run_dir = run(cfg, Path(root), device=args.device, progress=False)
        seconds = time.perf_counter() - started
        results = read_json(run_dir / "results.json")
    name = "full" if args.full else "quick"
    print(
        f"red-door {name}: {seconds:.1f} s wall on {args.threads} threads (target <= {budget:.0f} s): "
        f"{'ok' if seconds <= budget else 'MISSED'}"
    )
    for seed, entry in results["arms"]["narrow"]["seeds"].items():
        rate = entry["distributions"]["red-door/train"]["success"]["rate"]
        print(
            f"narrow seed {seed}: success on red-door/train {rate:.1%} (target >= 95%): "
            f"{'ok' if rate >= 0.95 else 'MISSED'}"
        )
    for arm, per_dist in results["summary"].items():
        deploy = per_dist["red-door/deploy"]
        print(
            f"{arm}: deploy success mean {deploy['mean_success']:.1%} "
            f"(range {deploy['min_success']:.1%}-{deploy['max_success']:.1%}); verdicts {deploy['verdicts']}"
        )


if __name__ == "__main__":
    main()
