"""icl-gd: does a transformer trained on in-context regression learn gradient descent?

Trains a 1-layer and a 3-layer linear self-attention model and a 2-layer softmax
transformer on `cfg.task`, then lines each up against the hand-built GD construction
(1 and 3 steps, eta fitted), least squares and ridge: query loss, prediction difference,
cosine of input sensitivities, the in-context loss of the weights read out layer by layer,
and all of it again on each shifted distribution. Writes a run folder with the models,
`metrics.jsonl`, `results.json` and `report.html`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mesalab.config import Config
from mesalab.detect import icl_compare as cmp
from mesalab.envs.icl.distributions import DESCRIPTIONS, changes, shifted
from mesalab.envs.icl.sampler import Batch, sample_seeded
from mesalab.experiments.icl_gd.config import IclGdConfig
from mesalab.experiments.icl_gd.exact import best_one_step
from mesalab.hooks import HookedModule
from mesalab.models.io import save_model
from mesalab.models.lsa import LinearSelfAttention, LSAConfig
from mesalab.models.reference import gd
from mesalab.models.softmax_transformer import SoftmaxTransformer, SoftmaxTransformerConfig
from mesalab.runtime import default_device
from mesalab.store.metrics import MetricsLogger
from mesalab.store.runs import create_run_dir, write_json_atomic, write_text_atomic
from mesalab.train.supervised import TrainSettings, train


@dataclass
class Trained:
    name: str
    kind: str
    model: HookedModule
    config: Config
    reference: str
    """Name of the GD reference with the same number of steps as the model has layers (or 1)."""


def build_models(cfg: IclGdConfig, device: torch.device) -> list[Trained]:
    width = cfg.task.token_dim
    lsa = [
        LSAConfig(token_dim=width, n_layers=k, init_scale=cfg.lsa_init_scale, init_seed=cfg.seed)
        for k in (1, 3)
    ]
    soft = SoftmaxTransformerConfig(
        token_dim=width, d_model=cfg.softmax_d_model, n_layers=2, init_seed=cfg.seed
    )
    return [
        Trained("lsa-1", "lsa", LinearSelfAttention(lsa[0], device), lsa[0], "gd-1"),
        Trained("lsa-3", "lsa", LinearSelfAttention(lsa[1], device), lsa[1], "gd-3"),
        Trained("softmax-2", "softmax-transformer", SoftmaxTransformer(soft, device), soft, "gd-1"),
    ]


def references(
    cfg: IclGdConfig, fit: Batch, device: torch.device
) -> tuple[dict[str, gd.Predictor], dict[str, float]]:
    """The reference predictors and their fitted constants (etas, ridge strength)."""
    eta1, eta3 = gd.fit_eta(fit, 1), gd.fit_eta(fit, 3)
    lam = gd.fit_ridge_lambda(fit)
    refs: dict[str, gd.Predictor] = {
        "gd-1": cmp.model_predictor(gd.gd_construction(cfg.task.dim, eta1, 1, device)),
        "gd-3": cmp.model_predictor(gd.gd_construction(cfg.task.dim, eta3, 3, device)),
        "least-squares": gd.weights_predictor(gd.least_squares),
        "ridge": gd.weights_predictor(lambda x, y: gd.ridge(x, y, lam)),
    }
    return refs, {"eta_1": eta1, "eta_3": eta3, "ridge_lambda": lam}


def learned_step(pred: torch.Tensor, batch: Batch) -> float:
    """The eta for which one GD step best matches predictions (B,): E[pred u] / E[u^2]."""
    u = torch.einsum("bn,bnd,bd->b", batch.y, batch.x, batch.x_query) / batch.x.shape[1]
    return float((pred * u).sum() / (u * u).sum())


def _comparisons(model: cmp.Profile, refs: dict[str, cmp.Profile], batch: Batch) -> dict[str, Any]:
    return {name: dataclasses.asdict(cmp.compare_profiles(model, ref, batch)) for name, ref in refs.items()}


def evaluate_shifts(
    cfg: IclGdConfig, trained: list[Trained], refs: dict[str, gd.Predictor], device: torch.device
) -> list[dict[str, Any]]:
    """Every model and reference on `icl/train` and each shift.

    gd-1, gd-3 and ridge keep the constants fitted on the training task; `gd-1 refit` gets
    the step size that is best on the shifted one."""
    rows = []
    for name in ("icl/train", *cfg.shifts):
        spec = shifted(cfg.task, name)
        batch = sample_seeded(spec, cfg.eval_batch_size, cfg.seed, "icl-gd", "shift", name, device=device)
        refit = sample_seeded(spec, cfg.fit_batch_size, cfg.seed, "icl-gd", "shift-fit", name, device=device)
        eta_refit = gd.fit_eta(refit, 1)
        all_refs = {
            **refs,
            "gd-1 refit": cmp.model_predictor(gd.gd_construction(spec.dim, eta_refit, 1, device)),
        }
        losses = {r: cmp.query_loss(cmp.predict(p, batch), batch) for r, p in all_refs.items()}
        ref_profiles = {k: cmp.profile(all_refs[k], batch) for k in ("gd-1", "gd-3", "least-squares")}
        models = {}
        for t in trained:
            prof = cmp.profile(cmp.model_predictor(t.model), batch)
            models[t.name] = {
                "loss": cmp.query_loss(prof.prediction, batch),
                "learned_step": learned_step(prof.prediction, batch),
                "versus": _comparisons(prof, ref_profiles, batch),
            }
        rows.append(
            {
                "distribution": name,
                "changes": changes(name),
                "description": DESCRIPTIONS[name],
                "eta_refit": eta_refit,
                "best_one_step": best_one_step(spec, cfg.seed),
                "reference_loss": losses,
                "models": models,
            }
        )
    return rows


def mesa_curves(
    trained: list[Trained],
    cfg: IclGdConfig,
    etas: dict[str, float],
    fit: Batch,
    test: Batch,
    device: torch.device,
) -> dict[str, Any]:
    """Per model: the in-context loss of the probe-read weights at each residual layer."""
    curves: dict[str, Any] = {}
    subjects: list[tuple[str, HookedModule]] = [(t.name, t.model) for t in trained]
    subjects += [
        (f"gd-{k} construction", gd.gd_construction(cfg.task.dim, etas[f"eta_{k}"], k, device))
        for k in (1, 3)
    ]
    for name, model in subjects:
        curves[name] = [dataclasses.asdict(r) for r in cmp.mesa_objective_curve(model, fit, test)]
    iterates = gd.gd_iterates(test.x, test.y, etas["eta_3"], 3)
    curves["gd-3 iterates (exact)"] = [
        {"layer": f"w_{k}", "in_context_loss": v} for k, v in enumerate(cmp.iterate_curve(iterates, test))
    ]
    return curves


def run(
    cfg: IclGdConfig,
    out_root: Path | str | None = None,
    device: str | None = None,
    progress: Callable[[str, int], Any] | None = None,
) -> Path:
    """Run the experiment; returns the run folder. `progress(model name, steps done)` is called per step."""
    from mesalab.experiments.icl_gd.report import write_report  # figures load matplotlib: only when reporting

    started = time.perf_counter()
    dev = default_device(device)
    run_dir = create_run_dir("icl-gd", cfg, Path(out_root) if out_root is not None else None)
    fit = sample_seeded(cfg.task, cfg.fit_batch_size, cfg.seed, "icl-gd", "fit", device=dev)
    test = sample_seeded(cfg.task, cfg.eval_batch_size, cfg.seed, "icl-gd", "test", device=dev)
    refs, constants = references(cfg, fit, dev)
    ref_profiles = {name: cmp.profile(p, test) for name, p in refs.items()}
    ref_losses = {name: cmp.query_loss(p.prediction, test) for name, p in ref_profiles.items()}
    trained = build_models(cfg, dev)
    steps = {"lsa-1": cfg.lsa1_steps, "lsa-3": cfg.lsa3_steps, "softmax-2": cfg.softmax_steps}
    histories: dict[str, Any] = {}
    with contextlib.ExitStack() as open_loggers:
        for t in trained:
            board = run_dir / "tensorboard" / f"{t.name}-seed{cfg.seed}"  # one TensorBoard run per model
            logger = open_loggers.enter_context(
                MetricsLogger(run_dir / "metrics.jsonl", tensorboard_dir=board, tag=t.name)
            )
            lsa = t.kind == "lsa"
            settings = TrainSettings(
                steps=steps[t.name],
                batch_size=cfg.lsa_batch_size if lsa else cfg.softmax_batch_size,
                lr={"lsa-1": cfg.lsa1_lr, "lsa-3": cfg.lsa3_lr}.get(t.name, cfg.softmax_lr),
                final_lr_fraction=cfg.final_lr_fraction,
                eval_every=cfg.eval_every,
                grad_clip=cfg.grad_clip,
            )
            evaluate = _training_eval(ref_profiles, t.reference, test)
            tick = (lambda n, name=t.name: progress(name, n)) if progress else None
            hist = train(t.model, cfg.task, settings, cfg.seed, t.name, logger, evaluate, dev, tick)
            histories[t.name] = {
                "evals": hist.evals,
                "seconds": hist.seconds,
                "steps_per_second": hist.steps_per_second,
                "steps": settings.steps,
            }
            save_model(
                t.model,
                run_dir / t.name,
                t.kind,
                t.config,
                {"experiment": "icl-gd", "task": cfg.task.to_dict()},
            )
    summary = {}
    for t in trained:
        prof = cmp.profile(cmp.model_predictor(t.model), test)
        summary[t.name] = {
            "loss": cmp.query_loss(prof.prediction, test),
            "learned_step": learned_step(prof.prediction, test),
            "matched_reference": t.reference,
            "versus": _comparisons(prof, ref_profiles, test),
        }
    results = {
        "experiment": "icl-gd",
        "task": cfg.task.to_dict(),
        "constants": constants,
        "reference_loss": ref_losses,
        "models": summary,
        "training": histories,
        "mesa_curves": mesa_curves(trained, cfg, constants, fit, test, dev),
        "shifts": evaluate_shifts(cfg, trained, refs, dev),
        "device": str(dev),
        "threads": torch.get_num_threads(),
    }
    results["seconds"] = time.perf_counter() - started
    write_text_atomic(run_dir / "report.html", write_report(results, cfg))
    write_json_atomic(run_dir / "results.json", results)
    return run_dir


def _training_eval(
    refs: dict[str, cmp.Profile], matched: str, test: Batch
) -> Callable[[nn.Module], dict[str, float]]:
    def evaluate(model: nn.Module) -> dict[str, float]:
        prof = cmp.profile(cmp.model_predictor(model), test)
        out = cmp.compare_profiles(prof, refs[matched], test)
        row = {
            "test_loss": out.loss_model,
            f"sens_cos_{matched}": out.sensitivity_cosine,
            f"pred_diff_{matched}": out.prediction_difference,
        }
        if matched != "gd-1":
            row["sens_cos_gd-1"] = cmp.mean_cosine(prof.sensitivity, refs["gd-1"].sensitivity)
        return row

    return evaluate
