"""Benchmark: issue 11's targets for the think-longer flagship.

Runs `mesalab run think-longer` (the default config, or `--quick`) in-process and prints
every target as measured (met or missed, with the number), the wall and CPU seconds of each
phase, the training step time, and the machine's load average (the machine is shared:
wall times under load are pessimistic; CPU seconds are the steadier figure).
Targets: training <= 10 min, end to end <= 15 min (`--quick` <= 90 s) on 2 cores;
>= 99% on held-out training-size mazes; >= 95% at 31x31 and >= 90% at 63x63 run longer;
<= 30% at 63x63 with the training T; no size loses > 2 points at 4x the T it needs.
`--red-door`: `mesalab run red-door --arch recurrent` instead (one seed per arm; `--set` reaches
its config), target >= 95% training success within 5 min of training per arm.

    .venv/bin/python benchmarks/think_longer.py --threads 2 [--quick] [--set train.steps=N ...]
    .venv/bin/python benchmarks/think_longer.py --threads 2 --red-door [--set recurrent.base_optimizer=ppo]
    .venv/bin/python benchmarks/think_longer.py --resume runs/think-longer-...   # finish or re-read one
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from mesalab import runtime
from mesalab.experiments.think_longer.config import QUICK, ThinkLongerConfig
from mesalab.experiments.think_longer.run import run
from mesalab.overrides import apply_sets
from mesalab.store import read_json


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="a config field")
    parser.add_argument("--out", type=Path, default=None, help="run root (default: a temporary folder)")
    parser.add_argument("--resume", type=Path, default=None, help="a run folder to finish")
    parser.add_argument("--red-door", action="store_true", help="red-door --arch recurrent instead")
    args = parser.parse_args()
    runtime.configure(args.threads)
    if args.red_door:
        red_door(args)
        return
    cfg = QUICK if args.quick else ThinkLongerConfig()
    cfg = apply_sets(cfg, args.set)
    load_before = os.getloadavg()
    wall, cpu = time.perf_counter(), time.process_time()
    root = args.out or Path(tempfile.mkdtemp(prefix="think-longer-bench-"))
    run_dir = run(cfg, root, resume=args.resume, progress=False)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    results = read_json(run_dir / "results.json")
    print(f"run folder: {run_dir}")
    print(f"end to end: {wall:.0f} s wall, {cpu:.0f} s CPU ({args.threads} threads)")
    print("phases (wall s): " + ", ".join(f"{k} {v:.0f}" for k, v in results["timings_s"].items()))
    steps = cfg.train.steps
    print(
        f"training: {steps} steps, {results['timings_s']['train_narrow'] / steps * 1000:.0f} ms/step (wall)"
    )
    print(f"load average before / after: {load_before[0]:.1f} / {os.getloadavg()[0]:.1f}")
    for name, entry in results["targets"].items():
        verdict = "met" if entry["met"] else "MISSED"
        print(f"  {name}: {entry['value']:.3f} (wanted {entry['target']}) {verdict}")
    for size, entry in results["grid"]["sizes"].items():
        rates = ", ".join(f"T={t} {s['rate']:.0%}" for t, s in entry["success"].items())
        print(f"  {size}x{size} ({entry['episodes']} mazes): {rates}")
    probe = results["probe"]
    for name, acc in probe["accuracy"].items():
        print(
            f"  probe {name}: mean balanced accuracy {sum(acc) / len(acc):.3f} "
            f"on {probe['test_size']}x{probe['test_size']} mazes"
        )


def red_door(args: argparse.Namespace) -> None:
    """Both red-door arms with the recurrent torso: training time and success per arm, the verdicts."""
    from mesalab.experiments.red_door import RedDoorConfig, model_path
    from mesalab.experiments.red_door import run as run_red_door
    from mesalab.models.io import read_model_meta

    cfg = apply_sets(RedDoorConfig(seeds=1, arch="recurrent"), args.set)
    load_before = os.getloadavg()
    wall, cpu = time.perf_counter(), time.process_time()
    root = args.out or Path(tempfile.mkdtemp(prefix="red-door-recurrent-bench-"))
    run_dir = run_red_door(cfg, root, resume=args.resume, progress=False)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    results = read_json(run_dir / "results.json")
    print(f"run folder: {run_dir}")
    print(f"end to end: {wall:.0f} s wall, {cpu:.0f} s CPU ({args.threads} threads)")
    print(f"load average before / after: {load_before[0]:.1f} / {os.getloadavg()[0]:.1f}")
    for arm, entry in results["arms"].items():
        meta = read_model_meta(model_path(run_dir, arm, 0))
        train_name = entry["trained_on"]
        success = entry["seeds"]["0"]["distributions"][train_name]["success"]["rate"]
        seconds = float(meta.get("train_seconds", float("nan")))
        cpu_seconds = float(meta.get("train_cpu_seconds", float("nan")))
        met = "met" if success >= 0.95 and seconds <= 300 else "MISSED"
        print(
            f"  {arm} ({meta['base_optimizer']}): training success {success:.3f} after {seconds:.0f} s wall "
            f"({cpu_seconds:.0f} s CPU) (wanted >= 0.95 in 300 s) {met}"
        )
        for name, dist in entry["seeds"]["0"]["distributions"].items():
            if "verdict" in dist:
                print(f"    {name}: {dist['success']['rate']:.0%}, {dist['verdict']['text']}")


if __name__ == "__main__":
    main()
