"""Hand-built GD weights against GD computed by autograd; closed-form peers against torch.linalg."""

from __future__ import annotations

import pytest
import torch

from mesalab.detect.icl_compare import model_predictor, predict, query_loss
from mesalab.envs.icl import TaskSpec, sample_seeded
from mesalab.models.reference.gd import (
    GradientDescent,
    fit_eta,
    fit_eta_one_step,
    gd_construction,
    gd_iterates,
    in_context_loss,
    least_squares,
    ridge,
)

torch.set_num_threads(1)
SPEC = TaskSpec(dim=5, n_context=8)


def autograd_gd(x: torch.Tensor, y: torch.Tensor, eta: float, steps: int) -> torch.Tensor:
    """The slow obvious GD: gradients of the in-context loss by autograd, (B, d)."""
    w = torch.zeros(x.shape[0], x.shape[2], dtype=x.dtype, requires_grad=True)
    for _ in range(steps):
        (grad,) = torch.autograd.grad(in_context_loss(w, x, y).sum(), w)
        w = (w - eta * grad).detach().requires_grad_(True)
    return w.detach()


@pytest.mark.parametrize("steps", [1, 3])
def test_construction_prediction_equals_autograd_gd(steps: int) -> None:
    batch = sample_seeded(SPEC, 256, 0, "gd")
    eta = 0.7
    model = gd_construction(SPEC.dim, eta, steps)
    w = autograd_gd(batch.x, batch.y, eta, steps)
    expected = (w * batch.x_query).sum(-1)
    torch.testing.assert_close(predict(model_predictor(model), batch), expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(predict(GradientDescent(eta, steps), batch), expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(gd_iterates(batch.x, batch.y, eta, steps)[:, -1], w, atol=1e-5, rtol=1e-5)


def test_construction_carries_residuals_in_context_tokens() -> None:
    batch = sample_seeded(SPEC, 32, 1, "gd")
    model = gd_construction(SPEC.dim, 0.5, 2)
    _, cache = model.run_with_cache(batch.tokens())
    iterates = gd_iterates(batch.x, batch.y, 0.5, 2)
    for k in range(2):
        resid = cache[f"blocks.{k}.hook_resid_post"]
        expected = batch.y - torch.einsum("bnd,bd->bn", batch.x, iterates[:, k + 1])
        torch.testing.assert_close(resid[:, :-1, -1], expected, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(resid[..., :-1], batch.tokens()[..., :-1])  # the x-part never changes


def test_gradient_descent_hooks_the_iterates() -> None:
    batch = sample_seeded(SPEC, 16, 2, "gd")
    model = GradientDescent(0.4, 3)
    assert model.hook_names() == ["iters.0.hook_iterate", "iters.1.hook_iterate", "iters.2.hook_iterate"]
    _, cache = model.run_with_cache(batch.x, batch.y, batch.x_query)
    torch.testing.assert_close(cache["iters.2.hook_iterate"], gd_iterates(batch.x, batch.y, 0.4, 3)[:, 3])


def test_least_squares_matches_torch_lstsq() -> None:
    batch = sample_seeded(TaskSpec(dim=4, n_context=9, noise=0.3), 64, 0, "ls")
    expected = torch.linalg.lstsq(batch.x.double(), batch.y.double().unsqueeze(-1), driver="gelsd").solution
    torch.testing.assert_close(
        least_squares(batch.x, batch.y), expected.squeeze(-1).float(), atol=1e-5, rtol=1e-5
    )


def test_ridge_solves_its_normal_equations_and_shrinks_to_least_squares() -> None:
    batch = sample_seeded(TaskSpec(dim=4, n_context=9, noise=0.3), 64, 0, "ridge")
    w = ridge(batch.x, batch.y, 2.0).double()
    x, y = batch.x.double(), batch.y.double()
    residual = x.transpose(1, 2) @ (x @ w.unsqueeze(-1) - y.unsqueeze(-1)) + 2.0 * w.unsqueeze(-1)
    assert residual.abs().max() < 1e-4
    torch.testing.assert_close(
        ridge(batch.x, batch.y, 1e-9), least_squares(batch.x, batch.y), atol=1e-4, rtol=1e-4
    )


def test_fitted_eta_is_a_minimum() -> None:
    batch = sample_seeded(SPEC, 4096, 0, "eta")
    for steps in (1, 2):
        eta = fit_eta_one_step(batch) if steps == 1 else fit_eta(batch, steps)

        def loss(e: float, steps: int = steps) -> float:
            return query_loss(predict(GradientDescent(e, steps), batch), batch)

        assert loss(eta) <= min(loss(eta * 0.97), loss(eta * 1.03)) + 1e-7
