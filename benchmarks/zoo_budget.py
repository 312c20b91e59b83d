"""The detection targets: `mesalab zoo` within 5 minutes on 2 cores, an audit of one trained
policy within 2 minutes, and every zoo verdict correct.

    python benchmarks/zoo_budget.py --threads 2                      # the zoo; audits a policy it trains
    python benchmarks/zoo_budget.py --threads 2 --policy runs/red-door-.../models/narrow-seed0.safetensors

Both are timed as a user runs them: the CLI in a subprocess, wall clock, imports included.
Without `--policy`, a policy is first trained with `mesalab run red-door --quick --seeds 1`
(not timed) so that the audit examines a real PPO-trained planner.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ZOO_BUDGET, AUDIT_BUDGET = 300.0, 120.0


def mesalab(args: list[str], threads: int, cwd: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    env = {**os.environ, "MESALAB_THREADS": str(threads), "OMP_NUM_THREADS": str(threads)}
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "mesalab", *args], capture_output=True, text=True, cwd=cwd, env=env
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"mesalab {' '.join(args)} failed:\n{result.stderr}")
    return seconds, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--policy", type=Path, default=None, help="a saved policy to audit (default: train one)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        seconds, result = mesalab(["zoo", "--json", "--threads", str(args.threads)], args.threads, root)
        scores = json.loads(result.stdout)["scores"]
        ok = seconds <= ZOO_BUDGET
        print(
            f"mesalab zoo: {seconds:.1f} s wall on {args.threads} threads "
            f"(target <= {ZOO_BUDGET:.0f} s): {'ok' if ok else 'MISSED'}"
        )
        for name, s in scores.items():
            acc = "-" if s["accuracy"] is None else f"{s['accuracy']:.0%}"
            print(
                f"  {name:<27} correct {s['correct']:>2}  wrong {s['wrong']}  "
                f"inconclusive {s['inconclusive']:>2}  accuracy {acc}"
            )
        agg = scores["aggregate"]
        print(
            f"aggregate correct on every known entry: {'ok' if agg['correct'] == agg['known'] else 'MISSED'}"
        )
        policy = args.policy
        if policy is None:
            mesalab(
                ["run", "red-door", "--quick", "--seeds", "1", "--out", str(root / "runs")],
                args.threads,
                root,
            )
            policy = next((root / "runs").glob("red-door-*/models/narrow-seed0.safetensors"))
        seconds, result = mesalab(
            ["audit", str(policy.resolve()), "--out", str(root / "audit"), "--threads", str(args.threads)],
            args.threads,
            root,
        )
        audit = json.loads((root / "audit" / "audit.json").read_text())
        ok = seconds <= AUDIT_BUDGET
        print(
            f"mesalab audit {policy.name}: {seconds:.1f} s wall "
            f"(target <= {AUDIT_BUDGET:.0f} s): {'ok' if ok else 'MISSED'}"
        )
        print(f"  aggregate verdict: {audit['aggregate']['verdict']} ({audit['aggregate']['reason']})")


if __name__ == "__main__":
    main()
