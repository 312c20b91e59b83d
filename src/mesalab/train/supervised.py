"""Supervised training on in-context regression: fresh sequences every step, Adam, cosine decay.

The base objective is the query MSE. Every `eval_every` steps a callback measures the model
on fixed evaluation batches (loss, agreement with the GD construction) and the results go
to the metrics log named as cleanrl names them: `losses/train_loss`, the callback's losses
as `losses/{key}` (keys with `loss` in them), its other numbers as `charts/{key}`, and
`charts/SPS`, `charts/learning_rate`; the logger's tag names the model.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from mesalab.envs.icl.sampler import sample
from mesalab.envs.icl.spec import TaskSpec
from mesalab.seeding import generator
from mesalab.store.metrics import MetricsLogger

EvalFn = Callable[[nn.Module], dict[str, float]]
"""Measures a model (in eval mode, no gradients needed) and returns named numbers."""


@dataclass(frozen=True)
class TrainSettings:
    """How one model is trained (filled in from the experiment config)."""

    steps: int
    batch_size: int
    lr: float
    final_lr_fraction: float
    eval_every: int
    grad_clip: float
    """Largest gradient norm per step; deeper LSA stacks otherwise spike (products of weights)."""


@dataclass
class TrainHistory:
    """Evaluations over training: one dict per evaluation, with the step and seconds so far."""

    evals: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    steps_per_second: float = 0.0


def train(
    model: nn.Module,
    spec: TaskSpec,
    settings: TrainSettings,
    seed: int,
    name: str,
    logger: MetricsLogger,
    evaluate: EvalFn,
    device: torch.device,
    progress: Callable[[int], None] | None = None,
) -> TrainHistory:
    """Train `model` (tokens -> query predictions) in place; returns its evaluation history."""
    opt = torch.optim.Adam(model.parameters(), lr=settings.lr)
    floor = settings.final_lr_fraction

    def schedule(step: int) -> float:  # cosine from lr down to floor * lr
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * step / max(settings.steps, 1)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    gen = generator(seed, "icl-gd", "train", name)
    history = TrainHistory()
    train_seconds = 0.0

    last = {"step": 0, "seconds": 0.0}

    def run_eval(step: int, train_loss: float) -> None:
        model.eval()
        row = {"step": float(step), "seconds": train_seconds, **evaluate(model)}
        model.train()
        history.evals.append(row)
        measured = {f"{'losses' if 'loss' in k else 'charts'}/{k}": v for k, v in row.items() if k != "step"}
        elapsed = train_seconds - last["seconds"]
        sps = (step - last["step"]) / elapsed if elapsed > 0 else math.nan
        last.update(step=step, seconds=train_seconds)
        lr = opt.param_groups[0]["lr"]
        logger.log(
            step, {"losses/train_loss": train_loss, **measured, "charts/SPS": sps, "charts/learning_rate": lr}
        )

    run_eval(0, math.nan)
    model.train()
    for step in range(1, settings.steps + 1):
        start = time.perf_counter()
        batch = sample(spec, settings.batch_size, gen, device)
        loss = ((model(batch.tokens()) - batch.y_query) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
        opt.step()
        sched.step()
        train_seconds += time.perf_counter() - start
        if step % settings.eval_every == 0 or step == settings.steps:
            run_eval(step, float(loss.detach()))
        if progress is not None:
            progress(1)
    model.eval()
    history.seconds = train_seconds
    history.steps_per_second = settings.steps / max(train_seconds, 1e-9)
    return history
