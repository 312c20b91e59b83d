"""The exact best one-step GD loss of in-context regression against Monte Carlo.

For each setting the closed form must lie within 3 standard errors of a Monte-Carlo
estimate over 100k sequences (MSE at the closed-form eta, and the fitted eta), and the
closed-form argmin must match a numerical minimisation of the same quadratic.
"""

from __future__ import annotations

import pytest

from mesalab.envs.icl.distributions import get_task
from mesalab.envs.icl.spec import TaskSpec
from mesalab.models.reference.gd import line_search
from mesalab.models.reference.gd_exact import (
    input_moments,
    monte_carlo_one_step,
    one_step_reference,
    weight_norm2,
)

SETTINGS = {
    "icl/train": get_task("icl/train"),
    "icl/x-scale-2": get_task("icl/x-scale-2"),
    "icl/short-context": get_task("icl/short-context"),
    "icl/noisy": get_task("icl/noisy"),
    "icl/gaussian-x": get_task("icl/gaussian-x"),
    "d=5, N=20, a=0.5, s=2, noise 0.1": TaskSpec(dim=5, n_context=20, x_scale=0.5, w_scale=2.0, noise=0.1),
    "pool of 8 tasks, noise 0.3": get_task("icl/train").replace(pool_size=8, noise=0.3),
}


@pytest.mark.parametrize("name", list(SETTINGS))
def test_closed_form_lies_within_three_standard_errors_of_monte_carlo(name: str) -> None:
    spec = SETTINGS[name]
    exact = one_step_reference(spec)
    estimate = monte_carlo_one_step(spec, sequences=100_000, seed=7, chunk=8192)
    mse, mse_error = estimate.mse(exact.eta)
    eta, eta_error = estimate.eta()
    assert estimate.count == 100_000 and 0 < mse_error < 0.02 * mse
    assert abs(mse - exact.loss) <= 3 * mse_error, (name, mse, exact.loss, mse_error)
    assert abs(eta - exact.eta) <= 3 * eta_error, (name, eta, exact.eta, eta_error)
    assert abs(estimate.mse(0.0)[0] - exact.c) <= 3 * estimate.mse(0.0)[1]  # predicting 0


@pytest.mark.parametrize("name", list(SETTINGS))
def test_closed_form_argmin_is_the_numerical_minimum(name: str) -> None:
    exact = one_step_reference(SETTINGS[name])
    found = line_search(exact.mse, 0.0, 4 * exact.eta)
    assert found == pytest.approx(exact.eta, rel=1e-6)
    assert exact.mse(found) == pytest.approx(exact.loss, rel=1e-9)
    assert exact.mse(0.9 * exact.eta) > exact.loss and exact.mse(1.1 * exact.eta) > exact.loss


def test_training_figures_and_moments() -> None:
    """icl/train: m2 = 1/3, m4 = 1/5, E|w|^2 = 10: eta* = 50/33, MSE* = 10/3 - (10/9)^2 / (11/15)."""
    spec = get_task("icl/train")
    assert input_moments(spec) == pytest.approx((1 / 3, 1 / 5))
    assert input_moments(get_task("icl/gaussian-x")) == pytest.approx((1.0, 3.0))
    assert weight_norm2(spec) == 10.0 and weight_norm2(get_task("icl/w-scale-2")) == 40.0
    exact = one_step_reference(spec)
    assert exact.eta == pytest.approx(50 / 33) and exact.a == pytest.approx(11 / 15)
    assert exact.loss == pytest.approx(10 / 3 - (10 / 9) ** 2 / (11 / 15))
    # scaling x by k scales eta* by 1/k^2 and the MSE by k^2; scaling w by k scales the MSE by k^2
    wide = one_step_reference(get_task("icl/x-scale-2"))
    assert wide.eta == pytest.approx(exact.eta / 4) and wide.loss == pytest.approx(4 * exact.loss)
    assert one_step_reference(get_task("icl/w-scale-2")).loss == pytest.approx(4 * exact.loss)
