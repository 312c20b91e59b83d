"""Reference optimizers for the icl and choice domains, fitted to a model's own outputs.

- icl: gradient descent on the in-context least-squares loss (1 to 3 steps, step size
  fitted to the model's predictions), least squares and ridge (strength fitted likewise).
- choice: best-of-k over the distinct answers the model gives on the reference set, with
  a linear score per answer fitted to its choices (multinomial logistic regression): the
  argmax of a learned objective over a fixed candidate set.
The reference whose predictions explain the model's best is the one it is compared with.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import torch

from mesalab.models.reference.gd import gd_iterates, least_squares, line_search, ridge
from mesalab.seeding import generator

IclReference = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def r_squared(prediction: torch.Tensor, target: torch.Tensor) -> float:
    """1 - mean squared difference / variance of `target` (1 = identical)."""
    var = float(target.double().var())
    err = float((prediction.double() - target.double()).pow(2).mean())
    return 1.0 - err / var if var > 0 else (1.0 if err == 0 else -math.inf)


def _gd(eta: float, steps: int) -> IclReference:
    def predict(x: torch.Tensor, y: torch.Tensor, xq: torch.Tensor) -> torch.Tensor:
        w = gd_iterates(x.double(), y.double(), eta, steps)[:, -1]
        return (w * xq.double()).sum(-1).to(x.dtype)

    return predict


def icl_references(
    x: torch.Tensor, y: torch.Tensor, xq: torch.Tensor, pred: torch.Tensor
) -> dict[str, tuple[IclReference, float]]:
    """Name -> (predictor, R^2 of the model's predictions) for every fitted reference."""
    out: dict[str, tuple[IclReference, float]] = {}
    u = torch.einsum("bn,bnd,bd->b", y.double(), x.double(), xq.double()) / x.shape[1]
    top = float((u * pred.double()).sum() / (u * u).sum().clamp_min(1e-12))
    for steps in (1, 2, 3):
        if steps == 1:
            eta = top
        else:

            def loss(e: float, k: int = steps) -> float:
                value = float((_gd(e, k)(x, y, xq) - pred).double().pow(2).mean())
                return value if math.isfinite(value) else math.inf

            eta = line_search(loss, 0.0, max(4.0 * top, 1e-3), grid=21, iters=25)
        ref = _gd(eta, steps)
        out[f"gd-{steps}-step (eta {eta:.3g})"] = (ref, r_squared(ref(x, y, xq), pred))

    def lsq(a: torch.Tensor, b: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        return (least_squares(a, b) * q).sum(-1)

    out["least-squares"] = (lsq, r_squared(lsq(x, y, xq), pred))

    def ridge_loss(log_lam: float) -> float:
        return float(((ridge(x, y, math.exp(log_lam)) * xq).sum(-1) - pred).pow(2).mean())

    lam = math.exp(line_search(ridge_loss, math.log(1e-4), math.log(1e3), grid=21, iters=25))

    def rdg(a: torch.Tensor, b: torch.Tensor, q: torch.Tensor, lam: float = lam) -> torch.Tensor:
        return (ridge(a, b, lam) * q).sum(-1)

    out[f"ridge (lambda {lam:.3g})"] = (rdg, r_squared(rdg(x, y, xq), pred))
    return out


@dataclasses.dataclass
class ChoiceReference:
    """Best-of-k over `answers (k, p)` with linear scores `z @ weight + bias` fitted to choices."""

    answers: torch.Tensor
    weight: torch.Tensor
    bias: torch.Tensor

    def scores(self, z: torch.Tensor) -> torch.Tensor:
        """`(B, k)` fitted objective of every candidate answer."""
        return z @ self.weight + self.bias

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return self.answers[self.scores(z).argmax(1)]

    def index(self, answers: torch.Tensor) -> torch.Tensor:
        """`(B,)` the candidate each answer row equals, -1 for none."""
        same = (answers[:, None, :] - self.answers[None]).abs().amax(-1) <= 1e-5
        return torch.where(same.any(1), same.float().argmax(1), -1)


def fit_choice_reference(
    z: torch.Tensor, answers: torch.Tensor, seed: int = 0, candidates: torch.Tensor | None = None
) -> ChoiceReference:
    """A multinomial logit of z that explains the choices among `candidates (k, p)`.

    Without `candidates` the distinct rows of `answers` are the candidates; with them, rows
    whose answer is none of the candidates are left out of the fit.
    """
    if candidates is None:
        rounded = answers.detach().double().round(decimals=5)
        unique, labels = torch.unique(rounded, dim=0, return_inverse=True)
    else:
        unique = candidates.detach().double()
        labels = ChoiceReference(candidates, torch.zeros(1), torch.zeros(1)).index(answers)
        z, labels = z[labels >= 0], labels[labels >= 0]
    k = unique.shape[0]
    mean, std = z.mean(0), z.std(0).clamp_min(1e-6)
    zs = ((z - mean) / std).double()
    gen = generator(seed, "detect", "choice-fit")
    weight = (torch.randn(z.shape[1], k, generator=gen, dtype=torch.float64) * 0.01).requires_grad_(True)
    bias = torch.zeros(k, dtype=torch.float64, requires_grad=True)
    optim = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=100, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optim.zero_grad()
        loss = torch.nn.functional.cross_entropy(zs @ weight + bias, labels) + 1e-6 * weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optim.step(closure)
    w = (weight.detach() / std.double()[:, None]).float()
    b = (bias.detach() - (mean.double() / std.double()) @ weight.detach()).float()
    return ChoiceReference(unique.to(answers.dtype), w, b)
