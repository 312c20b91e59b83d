"""Metrics that line a trained model up against a reference on the same batches.

Everything here takes predictors `(x, y, x_query) -> predictions (B,)`, so trained models,
hand-built LSA weights, plain GD and closed-form estimators compare alike:
query loss, relative L2 distance of predictions, cosine of the sensitivities
d(prediction)/d(query) per example, and, per layer, the weight vector a linear probe reads
out of the residual stream together with its in-context loss (the mesa-objective curve).

The curve is the probe-based sibling of `objective_descent`'s icl decoder: both read the
same layers (`residual_names`) and score them on the in-context loss, but that one applies
the model's own readout to each layer (the logit lens) while this one fits a probe per
layer, so the two report different numbers and both stay.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from mesalab.envs.icl.sampler import Batch, tokens
from mesalab.hooks import HookedModule, HookPoint
from mesalab.models.reference.gd import Predictor, in_context_loss


def model_predictor(model: Callable[[torch.Tensor], torch.Tensor]) -> Predictor:
    """A token model `(B, N + 1, d + 1) -> (B,)` as a predictor on context and query."""

    def predict(x: torch.Tensor, y: torch.Tensor, x_query: torch.Tensor) -> torch.Tensor:
        return model(tokens(x, y, x_query))

    return predict


def predict(predictor: Predictor, batch: Batch) -> torch.Tensor:
    """Predictions without gradients, (B,)."""
    with torch.no_grad():
        return predictor(batch.x, batch.y, batch.x_query)


def query_loss(pred: torch.Tensor, batch: Batch) -> float:
    """Mean squared error on the query targets."""
    return float(((pred - batch.y_query) ** 2).mean())


def relative_difference(pred: torch.Tensor, ref: torch.Tensor) -> float:
    """|pred - ref| / |ref| over the batch (L2 norms of the (B,) vectors)."""
    return float((pred - ref).norm() / ref.norm().clamp_min(1e-12))


def sensitivities(predictor: Predictor, batch: Batch) -> torch.Tensor:
    """d(prediction_b)/d(x_query_b) for every example, (B, d)."""
    return profile(predictor, batch).sensitivity


def mean_cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean over rows of the cosine similarity of (B, d) tensors."""
    return float(torch.nn.functional.cosine_similarity(a, b, dim=-1, eps=1e-12).mean())


@dataclass(frozen=True)
class Profile:
    """A predictor's behaviour on one batch: what it predicts and how that moves with the query."""

    prediction: torch.Tensor
    """Predictions, (B,)."""
    sensitivity: torch.Tensor
    """d(prediction_b)/d(x_query_b), (B, d)."""


def profile(predictor: Predictor, batch: Batch) -> Profile:
    """Predictions and per-example sensitivities in one forward and one backward pass.

    Each prediction depends only on its own sequence, so the gradient of their sum with
    respect to the queries holds every per-example gradient at once.
    """
    x_query = batch.x_query.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        pred = predictor(batch.x, batch.y, x_query)
        (grad,) = torch.autograd.grad(pred.sum(), x_query)
    return Profile(prediction=pred.detach(), sensitivity=grad)


@dataclass(frozen=True)
class Comparison:
    """A model against a reference on one batch."""

    loss_model: float
    """Query MSE of the model."""
    loss_reference: float
    """Query MSE of the reference."""
    prediction_difference: float
    """|pred_model - pred_ref| / |pred_ref|."""
    sensitivity_cosine: float
    """Mean cosine of d(pred)/d(query) between model and reference."""


def compare_profiles(model: Profile, reference: Profile, batch: Batch) -> Comparison:
    return Comparison(
        loss_model=query_loss(model.prediction, batch),
        loss_reference=query_loss(reference.prediction, batch),
        prediction_difference=relative_difference(model.prediction, reference.prediction),
        sensitivity_cosine=mean_cosine(model.sensitivity, reference.sensitivity),
    )


def compare(model: Predictor, reference: Predictor, batch: Batch) -> Comparison:
    """Loss of each, relative prediction difference and sensitivity cosine on `batch`."""
    return compare_profiles(profile(model, batch), profile(reference, batch), batch)


# ---- the mesa-objective through the layers ---------------------------------------------


@dataclass(frozen=True)
class LayerReadout:
    """What a linear probe reads out of one layer's residual stream at the query token."""

    layer: str
    """Hook name of the residual stream read."""
    in_context_loss: float
    """Mean L(w) = 1/(2N) sum_i (w . x_i - y_i)^2 of the implied weights w."""
    probe_loss: float
    """Query MSE of the probe's prediction."""
    weight_cosine: float
    """Mean cosine between the implied weights and the true task weights."""


def residual_names(model: HookedModule) -> list[str]:
    """`hook_embed` then each block's `hook_resid_post`: the residual stream layer by layer."""
    return [n for n in model.hook_names() if n == "hook_embed" or n.endswith("hook_resid_post")]


def _query_features(
    model: HookedModule, names: list[str], batch: Batch, x_query: torch.Tensor
) -> list[torch.Tensor]:
    """The query token's residual (B, width) at each named hook, with its graph kept."""
    seen: dict[str, torch.Tensor] = {}

    def keep(activation: torch.Tensor, hook: HookPoint) -> None:
        seen[hook.name] = activation[:, -1]

    with model.hooks([(name, keep) for name in names]):
        model(tokens(batch.x, batch.y, x_query))
    return [seen[name] for name in names]


def fit_probe(features: torch.Tensor, target: torch.Tensor, ridge: float = 1e-6) -> torch.Tensor:
    """Least-squares probe with bias from features (B, W) to targets (B,): coefficients (W + 1,)."""
    design = torch.cat([features, torch.ones_like(features[:, :1])], dim=-1).double()
    eye = torch.eye(design.shape[1], dtype=design.dtype, device=design.device)
    gram = design.T @ design + ridge * features.shape[0] * eye
    return torch.linalg.solve(gram, design.T @ target.double()).to(features.dtype)


def mesa_objective_curve(model: HookedModule, probe_batch: Batch, test_batch: Batch) -> list[LayerReadout]:
    """Per residual layer: fit a probe for the query target on `probe_batch`, then on `test_batch`
    read the implied weights w = d(probe)/d(query) and score them on the in-context loss."""
    names = residual_names(model)
    with torch.no_grad():
        probe_feats = _query_features(model, names, probe_batch, probe_batch.x_query)
    probes = [fit_probe(f, probe_batch.y_query).to(f.device) for f in probe_feats]
    x_query = test_batch.x_query.detach().clone().requires_grad_(True)
    out = []
    with torch.enable_grad():
        feats = _query_features(model, names, test_batch, x_query)
        for name, feat, coef in zip(names, feats, probes, strict=True):
            readout = feat @ coef[:-1] + coef[-1]  # (B,)
            if readout.requires_grad:
                (w,) = torch.autograd.grad(readout.sum(), x_query, retain_graph=True)
            else:  # a layer the query does not reach (only possible for a constant probe)
                w = torch.zeros_like(x_query)
            out.append(
                LayerReadout(
                    layer=name,
                    in_context_loss=float(in_context_loss(w, test_batch.x, test_batch.y).mean()),
                    probe_loss=float(((readout.detach() - test_batch.y_query) ** 2).mean()),
                    weight_cosine=mean_cosine(w, test_batch.w),
                )
            )
    return out


def iterate_curve(iterates: torch.Tensor, batch: Batch) -> list[float]:
    """Mean in-context loss of each iterate in (B, K + 1, d): the reference curve for GD."""
    return [float(in_context_loss(iterates[:, k], batch.x, batch.y).mean()) for k in range(iterates.shape[1])]
