"""A reward over cell features, fitted to the actions: what a policy pursues when no name fits.

The behavioural counterpart of the planner's learned reward map: each target cell earns
`R(c) = sum_f w_f * phi_f(c)`, one weight per observation channel that can mark a target
(`door`, `object` and the colours; walls and the agent mark none). Reaching a target ends
the episode, so the value of a cell is the best of walking to some target `t` (its reward
less the maze distance, other targets blocked) or to none (value 0, the episode runs out):

    V(s') = logsumexp(0, max over t of [R(t) - d(s', t)])   (soft, over t too)

a soft version of BFS value iteration with a cost of one per step. A Boltzmann-rational
agent picks `pi(a | s) ∝ exp(beta * V(s'_a))`. The weights and `beta` are fitted by maximum
likelihood on the progress steps (`shift.progress`), with L-BFGS and a small ridge penalty:
every target has one shape channel and one colour channel, so adding k to the shapes and
taking it from the colours changes nothing, and the penalty picks the smallest weights.
Weights are in steps: `w_red - w_blue = 5` means red is worth a 5-step detour over blue.

The fit runs once per inference on all its steps (about 30 evaluations of an `(S, 4, T)`
tensor: 0.8 to 4 s for 300 episodes on a 2-vCPU machine at load 9); the bootstrap reweights
its per-step log-likelihoods and does not refit.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from mesalab.envs.gridworld import COLOURS
from mesalab.envs.gridworld.oracle import UNREACHABLE, next_cell_values, target_distances
from mesalab.shift.evaluate import Assessment

CHANNELS: tuple[str, ...] = ("door", "object", *COLOURS)
"""Observation channels that can mark a target cell, in `observations.CHANNELS` order."""
CAP = 200
"""Distance given to targets that cannot be reached from a cell (as `infer.CAP`)."""
RIDGE = 1e-2
"""Penalty on the squared weights (nats per squared step): fixes the shape/colour split."""
ITERATIONS = 25
"""L-BFGS iterations of the fit (about 30 evaluations of the likelihood and its gradient)."""
MAX_BETA = 31.6
"""Largest inverse temperature (as `infer`'s grid): a deterministic policy would drive it to
infinity, and past it the likelihood changes by nothing that matters."""


def target_features(assessment: Assessment) -> tuple[torch.Tensor, torch.Tensor]:
    """`(E, T, F)` channel values of each target cell and `(E, T)` bool: the target is present."""
    start = assessment.start_states
    present = start.targets >= 0
    phi = torch.zeros(*start.targets.shape, len(CHANNELS))
    phi[:, 0, 0] = 1.0  # slot 0 is the exit door
    phi[:, 1:, 1] = 1.0
    colour = start.colours.clamp_min(0).cpu()
    phi.scatter_(2, (2 + colour)[:, :, None], 1.0)
    return phi * present.cpu()[:, :, None], present.cpu()


def step_target_distances(assessment: Assessment, keep: torch.Tensor) -> torch.Tensor:
    """`(S, 4, T)` maze distance from the cell each action leads to to each target (kept steps)."""
    start = assessment.start_states
    walls = start.grid(start.walls)
    dist = target_distances(walls, start.targets)  # (E, T, H, W)
    e, t, h, w = dist.shape
    dist = torch.where(dist >= UNREACHABLE, CAP, dist.clamp_max(CAP))
    following = next_cell_values(walls.repeat_interleave(t, 0), dist.reshape(e * t, h, w))
    following = following.view(e, t, 4, h * w)
    episode, agent = assessment.step_episode[keep], assessment.step_agent[keep]
    return following[episode, :, :, agent].permute(0, 2, 1).float().cpu()  # (S, 4, T)


@dataclasses.dataclass
class FeatureData:
    """What the fit needs, per kept step: distances, features and presence of its targets."""

    dist: torch.Tensor
    """`(S, 4, T)` distance to each target after each action."""
    phi: torch.Tensor
    """`(S, T, F)` channel values of each target of the step's episode."""
    present: torch.Tensor
    """`(S, T)` bool."""
    action: torch.Tensor
    """`(S,)` action taken."""

    @staticmethod
    def concat(parts: list[FeatureData]) -> FeatureData:
        width = max(p.dist.shape[2] for p in parts)

        def pad(x: torch.Tensor, dim: int, value: float | bool) -> torch.Tensor:
            extra = width - x.shape[dim]
            if extra == 0:
                return x
            shape = list(x.shape)
            shape[dim] = extra
            return torch.cat([x, torch.full(shape, value, dtype=x.dtype)], dim)

        return FeatureData(
            torch.cat([pad(p.dist, 2, float(CAP)) for p in parts]),
            torch.cat([pad(p.phi, 1, 0.0) for p in parts]),
            torch.cat([pad(p.present, 1, False) for p in parts]),
            torch.cat([p.action for p in parts]),
        )


def feature_data(assessment: Assessment, keep: torch.Tensor) -> FeatureData:
    """The fit's inputs for the steps `keep` `(S_all,)` bool of one assessment."""
    phi, present = target_features(assessment)
    episode = assessment.step_episode[keep].cpu()
    return FeatureData(
        step_target_distances(assessment, keep),
        phi[episode],
        present[episode],
        assessment.step_action[keep].cpu(),
    )


def step_logliks(data: FeatureData, weights: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """`(S,)` log pi(a_s | s_s) of the Boltzmann agent with reward weights `(F,)` and `beta`."""
    reward = data.phi @ weights  # (S, T)
    gain = reward[:, None, :] - data.dist  # (S, 4, T)
    gain = torch.where(data.present[:, None, :], gain, float("-inf"))
    none = torch.zeros_like(gain[:, :, :1])
    value = torch.cat([none, gain], 2).logsumexp(2)  # (S, 4)
    logits = beta * value
    return logits.gather(1, data.action[:, None]).squeeze(1) - logits.logsumexp(1)


@dataclasses.dataclass
class FeatureReward:
    """The fitted cell-feature reward and how well it explains the actions."""

    weights: dict[str, float]
    """Channel -> reward weight (in steps)."""
    beta: float
    """Inverse temperature of the Boltzmann agent."""
    step_loglik: torch.Tensor
    """`(S,)` per-step log-likelihood at the fit (the bootstrap reweights it)."""

    def summary(self, steps: int | None = None, total: float | None = None) -> dict[str, Any]:
        """Weights, beta, loglik, per_step and llr_vs_uniform (over `steps` with `total`, or all)."""
        n = int(self.step_loglik.shape[0]) if steps is None else steps
        ll = float(self.step_loglik.sum()) if total is None else total
        uniform = -n * float(torch.log(torch.tensor(4.0)))
        return {
            "channels": list(self.weights),
            "weights": dict(self.weights),
            "beta": self.beta,
            "loglik": ll,
            "per_step": ll / max(n, 1),
            "llr_vs_uniform": ll - uniform,
        }


def fit_feature_reward(data: FeatureData) -> FeatureReward:
    """Maximum likelihood of the weights and `beta` (L-BFGS from zero weights and beta about 1)."""
    if data.action.numel() == 0:
        return FeatureReward(dict.fromkeys(CHANNELS, 0.0), 0.0, torch.zeros(0))
    theta = torch.zeros(len(CHANNELS) + 1)
    theta[-1] = -3.4  # beta = MAX_BETA * sigmoid(theta[-1]): about 1
    theta.requires_grad_(True)
    optim = torch.optim.LBFGS([theta], max_iter=ITERATIONS, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optim.zero_grad()
        beta = MAX_BETA * torch.sigmoid(theta[-1])
        loss = -step_logliks(data, theta[:-1], beta).sum() + RIDGE * theta[:-1].pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optim.step(closure)
    fitted = theta.detach()
    with torch.no_grad():
        beta = MAX_BETA * torch.sigmoid(fitted[-1])
        per_step = step_logliks(data, fitted[:-1], beta)
    values = {name: float(w) for name, w in zip(CHANNELS, fitted[:-1], strict=True)}
    return FeatureReward(values, float(beta), per_step)


def feature_table(inference: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Headers and one row for a report: the fitted weight of each channel (in steps), beta
    and the gain over random per action; no rows when no reward was fitted."""
    fitted = inference.get("feature_reward") or {}
    if not fitted:
        return [], []
    headers = ["cell-feature reward", *fitted["channels"], "beta", "nats/action over random"]
    steps = max(int(inference.get("steps", 0)), 1)
    row = [
        "weight (steps)",
        *(f"{fitted['weights'][c]:+.1f}" for c in fitted["channels"]),
        f"{fitted['beta']:.2f}",
        f"{fitted['llr_vs_uniform'] / steps:.3f}",
    ]
    return headers, [row]


def end_cell_table(inference: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Headers and rows for a report: the most common end cells of truncated episodes."""
    cells = (inference.get("unlisted") or {}).get("end_cells") or []
    rows = [[f"row {c['row']}, col {c['col']}", f"{c['share']:.0%}"] for c in cells]
    return (["end cell of truncated episodes", "share of episodes"], rows) if rows else ([], [])
