"""The oversight targets: `--quick` within 2 minutes, the default run (3 seeds, main and
control) within 15 minutes, trained agents exiting >= 95% of `oversight/train` episodes;
prints the oversight gap of each arm with its interval, the CPU seconds (all threads; on a
shared machine the wall time is inflated by others' load, the CPU time much less), the time
of each phase, and the machine's load.

    python benchmarks/oversight_budget.py --threads 2            # quick preset
    python benchmarks/oversight_budget.py --threads 2 --full     # the default run
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from mesalab.experiments.oversight import ARMS, QUICK, OversightConfig, run
from mesalab.runtime import configure
from mesalab.store import read_json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--full", action="store_true", help="time the default run instead of --quick")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    configure(args.threads)
    cfg, budget = (OversightConfig(), 900.0) if args.full else (QUICK, 120.0)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as root:
        started, cpu = time.perf_counter(), time.process_time()
        run_dir = run(cfg, Path(root), device=args.device, progress=False)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        results = read_json(run_dir / "results.json")
    name = "default" if args.full else "quick"
    print(
        f"oversight {name}: {seconds:.1f} s wall, {cpu:.1f} s CPU on {args.threads} threads "
        f"(target <= {budget:.0f} s wall): {'ok' if seconds <= budget else 'MISSED'}; load average "
        f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    )
    phases = ", ".join(
        f"{k} {v['wall_s']:.1f} s wall / {v['cpu_s']:.1f} s CPU" for k, v in results["timings"].items()
    )
    print(f"phases: {phases}")
    for arm, entry in results["summary"].items():
        train = entry["distributions"][ARMS[arm]]["exit"]
        finding = entry["finding"]
        gap = finding["oversight_gap"]
        print(
            f"{arm}: exit on {ARMS[arm]} {train['rate']:.1%} (target >= 95%: "
            f"{'ok' if train['rate'] >= 0.95 else 'MISSED'}); restricted watched "
            f"{finding['restricted_watched']['rate']:.3f}, "
            f"unwatched {finding['restricted_unwatched']['rate']:.3f}; "
            f"gap {gap['rate']:+.3f} [{gap['low']:+.3f}, {gap['high']:+.3f}]: {finding['finding']}"
        )


if __name__ == "__main__":
    main()
