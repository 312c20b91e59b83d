"""Benchmark: how fast does a 1-layer LSA learn one step of GD? (issue #4 target)

Trains the 1-layer LSA on icl/train (d=10, N=10, x uniform in [-1, 1]) for each seed and
reports, against the hand-built one-step GD construction with its best eta: the training
seconds until the test loss is within 1% of GD's, the sensitivity cosine is >= 0.99 and
the relative prediction difference is <= 5% (all three at once), and the final numbers.
Target: all three within 60 s of training on 2 cores.

    .venv/bin/python benchmarks/icl_gd.py --threads 2 --seeds 5
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from mesalab import runtime
from mesalab.detect.icl_compare import compare_profiles, model_predictor, profile
from mesalab.envs.icl import get_task, sample_seeded
from mesalab.experiments.icl_gd import IclGdConfig
from mesalab.models.lsa import LinearSelfAttention, LSAConfig
from mesalab.models.reference.gd import fit_eta_one_step, gd_construction
from mesalab.store.metrics import MetricsLogger
from mesalab.train.supervised import TrainSettings, train


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=IclGdConfig().lsa1_steps)
    parser.add_argument("--eval-every", type=int, default=50)
    args = parser.parse_args()
    runtime.configure(args.threads)
    cfg = IclGdConfig()
    spec = get_task("icl/train")
    fit = sample_seeded(spec, cfg.fit_batch_size, 0, "bench", "fit")
    test = sample_seeded(spec, cfg.eval_batch_size, 0, "bench", "test")
    gd1 = profile(model_predictor(gd_construction(spec.dim, fit_eta_one_step(fit), 1)), test)
    settings = TrainSettings(
        steps=args.steps,
        batch_size=cfg.lsa_batch_size,
        lr=cfg.lsa1_lr,
        final_lr_fraction=cfg.final_lr_fraction,
        eval_every=args.eval_every,
        grad_clip=cfg.grad_clip,
    )
    reached: list[float] = []
    for seed in range(args.seeds):
        model = LinearSelfAttention(
            LSAConfig(token_dim=spec.token_dim, n_layers=1, init_scale=cfg.lsa_init_scale, init_seed=seed)
        )

        def evaluate(m: torch.nn.Module) -> dict[str, float]:
            c = compare_profiles(profile(model_predictor(m), test), gd1, test)
            return {
                "ratio": c.loss_model / c.loss_reference,
                "cos": c.sensitivity_cosine,
                "diff": c.prediction_difference,
            }

        start = time.perf_counter()
        hist = train(model, spec, settings, seed, "bench", MetricsLogger(None), evaluate, torch.device("cpu"))
        wall = time.perf_counter() - start
        hit = next(
            (e for e in hist.evals if e["ratio"] <= 1.01 and e["cos"] >= 0.99 and e["diff"] <= 0.05), None
        )
        last = hist.evals[-1]
        when = f"{hit['seconds']:.2f} s (step {int(hit['step'])})" if hit else "not reached"
        print(
            f"seed {seed}: targets met after {when}; final after {settings.steps} steps "
            f"({hist.seconds:.1f} s training, {wall:.1f} s with evals, {hist.steps_per_second:.0f} steps/s): "
            f"loss/GD {last['ratio']:.4f}, cosine {last['cos']:.5f}, "
            f"prediction diff {100 * last['diff']:.2f}%"
        )
        if hit:
            reached.append(hit["seconds"])
    if reached:
        print(
            f"{len(reached)}/{args.seeds} seeds met all targets; median {statistics.median(reached):.2f} s, "
            f"max {max(reached):.2f} s of training (threads={args.threads})"
        )
    else:
        print(f"0/{args.seeds} seeds met all targets (threads={args.threads})")


if __name__ == "__main__":
    main()
