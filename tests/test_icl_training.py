"""A short training run moves the 1-layer LSA towards the GD construction."""

from __future__ import annotations

import torch

from mesalab.detect.icl_compare import compare, model_predictor
from mesalab.envs.icl import TaskSpec, sample_seeded
from mesalab.models.lsa import LinearSelfAttention, LSAConfig
from mesalab.models.reference.gd import fit_eta_one_step, gd_construction
from mesalab.store.metrics import MetricsLogger
from mesalab.train.supervised import TrainSettings, train


def test_short_training_moves_sensitivity_cosine_towards_one() -> None:
    spec = TaskSpec(dim=5, n_context=8)
    test = sample_seeded(spec, 1024, 0, "test")
    gd1 = model_predictor(gd_construction(spec.dim, fit_eta_one_step(sample_seeded(spec, 4096, 0, "fit")), 1))
    model = LinearSelfAttention(LSAConfig(token_dim=6, n_layers=1, init_seed=1))

    def evaluate(m: torch.nn.Module) -> dict[str, float]:
        c = compare(model_predictor(m), gd1, test)
        return {"cos": c.sensitivity_cosine, "loss": c.loss_model, "gd_loss": c.loss_reference}

    settings = TrainSettings(
        steps=800, batch_size=1024, lr=3e-3, final_lr_fraction=0.05, eval_every=200, grad_clip=1.0
    )
    history = train(model, spec, settings, 0, "lsa", MetricsLogger(None), evaluate, torch.device("cpu"))
    first, last = history.evals[0], history.evals[-1]
    assert abs(first["cos"]) < 0.5
    assert last["cos"] > 0.98
    assert last["loss"] < 1.05 * last["gd_loss"]
    assert [e["step"] for e in history.evals] == [0, 200, 400, 600, 800]
