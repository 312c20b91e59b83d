"""PPO on the batched gridworld, in cleanrl's shape: config, rollout, GAE, clipped update.

    result = train(PPOConfig(total_steps=200_000), world, policy, logger)

The world steps `world.batch_size` mazes at once; every random draw (actions, minibatch
order) comes from one generator seeded from `(cfg.seed, "ppo")`. With a checkpoint folder
the run saves every `checkpoint_every` iterations and `resume=True` continues bit for bit.
Metrics, named as cleanrl names them: `charts/episodic_return`, `charts/episodic_length`,
`charts/success`, `charts/SPS`, `losses/*` (with `losses/explained_variance`), and
`objectives/*` (the rate at which episodes end on a target each candidate objective pays for).
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn
from tqdm import tqdm

from mesalab.config import Config, check
from mesalab.envs.gridworld.objectives import BASE_OBJECTIVE
from mesalab.envs.gridworld.world import GridWorld
from mesalab.errors import MesalabError
from mesalab.models.policy import ActorCritic
from mesalab.models.recurrent import RecurrentActorCritic
from mesalab.seeding import generator as make_generator
from mesalab.store.metrics import MetricsLogger
from mesalab.train.checkpoint import load_checkpoint, save_checkpoint


@dataclass(frozen=True)
class PPOConfig(Config):
    """Hyperparameters of PPO (Schulman et al. 2017) as cleanrl names them."""

    total_steps: int = 150_000
    """Environment steps to train for (summed over the batch of worlds)."""
    num_steps: int = 32
    """Steps per world per rollout."""
    learning_rate: float = 2e-2
    """Adam step size, annealed linearly to 0 when `anneal_lr`."""
    anneal_lr: bool = True
    """Anneal the learning rate linearly to zero over training."""
    gamma: float = 0.97
    """Discount factor."""
    gae_lambda: float = 0.95
    """GAE lambda."""
    num_minibatches: int = 8
    """Minibatches per epoch."""
    update_epochs: int = 3
    """Passes over each rollout."""
    clip_coef: float = 0.2
    """PPO clipping coefficient for the policy ratio (and the value, when `clip_vloss`)."""
    clip_vloss: bool = True
    """Clip the value loss as in the original PPO implementation."""
    ent_coef: float = 0.0
    """Entropy bonus weight."""
    vf_coef: float = 0.5
    """Value loss weight."""
    max_grad_norm: float = 0.5
    """Gradient norm clip."""
    norm_adv: bool = True
    """Normalise advantages per minibatch."""
    seed: int = 0
    """Seed of the training generator (actions, minibatch order, initial weights)."""
    checkpoint_every: int = 20
    """Iterations between checkpoints (when a checkpoint folder is given)."""

    # `shaping` (potential-based reward shaping) was never used; configs written before keep it at 0.0
    RETIRED_FIELDS: ClassVar[dict[str, Any]] = {"shaping": 0.0}

    def validate(self) -> None:
        check(self.total_steps > 0, "total_steps", f"must be positive, got {self.total_steps}")
        check(self.num_steps > 0, "num_steps", f"must be positive, got {self.num_steps}")
        check(self.learning_rate > 0, "learning_rate", f"must be positive, got {self.learning_rate}")
        check(0 < self.gamma <= 1, "gamma", f"must be in (0, 1], got {self.gamma}")
        check(0 <= self.gae_lambda <= 1, "gae_lambda", f"must be in [0, 1], got {self.gae_lambda}")
        check(self.num_minibatches > 0, "num_minibatches", f"must be positive, got {self.num_minibatches}")
        check(self.update_epochs > 0, "update_epochs", f"must be positive, got {self.update_epochs}")
        check(self.checkpoint_every > 0, "checkpoint_every", f"must be positive, got {self.checkpoint_every}")


@dataclass
class TrainResult:
    """What a training run reports."""

    steps: int
    """Environment steps taken."""
    seconds: float
    """Wall time of this call (a resumed run counts only its own part)."""
    final_metrics: dict[str, float]
    """The last logged value of each metric."""


def gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    dones: torch.Tensor,
    next_value: torch.Tensor,
    gamma: float,
    lam: float,
) -> torch.Tensor:
    """Generalised advantage estimates by a backward scan.

    Args:
        rewards, values, dones: `(T, N)`; `dones[t]` marks that step t ended its episode.
        next_value: `(N,)` value of the observation after the last step.
    Returns:
        `(T, N)` advantages.
    """
    steps = rewards.shape[0]
    advantages = torch.zeros_like(rewards)
    last = torch.zeros_like(next_value)
    for t in reversed(range(steps)):
        following = next_value if t == steps - 1 else values[t + 1]
        alive = 1.0 - dones[t]
        delta = rewards[t] + gamma * following * alive - values[t]
        last = delta + gamma * lam * alive * last
        advantages[t] = last
    return advantages


def train(
    cfg: PPOConfig,
    world: GridWorld,
    policy: ActorCritic | RecurrentActorCritic,
    logger: MetricsLogger | None = None,
    checkpoint_dir: Path | None = None,
    resume: bool = False,
    progress: bool = True,
    description: str = "ppo",
) -> TrainResult:
    """Train `policy` in place on `world` with PPO."""
    device = world.device
    num_envs = world.batch_size
    batch_size = num_envs * cfg.num_steps
    minibatch_size = max(batch_size // cfg.num_minibatches, 1)
    iterations = max(cfg.total_steps // batch_size, 1)
    gen = make_generator(cfg.seed, "ppo", device=device)
    optimizer = torch.optim.Adam(policy.parameters(), lr=cfg.learning_rate, eps=1e-5)
    names = world.objective_names

    # ---- storage -------------------------------------------------------------------
    obs_store = torch.zeros(
        (cfg.num_steps, num_envs, *world.observation_shape), dtype=world.obs.dtype, device=device
    )
    actions = torch.zeros((cfg.num_steps, num_envs), dtype=torch.int64, device=device)
    logprobs = torch.zeros((cfg.num_steps, num_envs), device=device)
    rewards = torch.zeros((cfg.num_steps, num_envs), device=device)
    dones = torch.zeros((cfg.num_steps, num_envs), device=device)
    values = torch.zeros((cfg.num_steps, num_envs), device=device)

    start_iteration = 1
    if resume and checkpoint_dir is not None and (checkpoint_dir / "checkpoint.json").exists():
        counters = load_checkpoint(checkpoint_dir, policy, optimizer, world, gen)
        saved = counters.get("config")
        if not isinstance(saved, dict) or type(cfg).from_dict(saved) != cfg:
            raise MesalabError(
                f"{checkpoint_dir}: the checkpoint was written by a different PPO config; "
                "resume with the same config, or delete the checkpoint to start over"
            )
        start_iteration = int(counters["iteration"]) + 1
        if logger is not None:
            logger.truncate_after(int(counters["global_step"]))
    else:
        if resume and logger is not None:  # an attempt that died before its first checkpoint
            logger.truncate_after(0)
        world.reset()
    obs = world.obs
    started = time.perf_counter()
    last: dict[str, float] = {}
    bar = tqdm(
        total=iterations * batch_size,
        initial=(start_iteration - 1) * batch_size,
        desc=description,
        unit="step",
        unit_scale=True,
        disable=not progress,
        leave=True,  # the finished bar stays: its rate and final success are worth reading
        dynamic_ncols=True,
    )
    for iteration in range(start_iteration, iterations + 1):
        if cfg.anneal_lr:
            optimizer.param_groups[0]["lr"] = cfg.learning_rate * (1.0 - (iteration - 1.0) / iterations)
        tick = time.perf_counter()

        # ---- rollout -----------------------------------------------------------------
        ended = torch.zeros((), device=device)
        returned = torch.zeros((), device=device)
        paid = torch.zeros(len(names), device=device)
        lengths = torch.zeros((), device=device)
        policy.eval()
        for step in range(cfg.num_steps):
            obs_store[step] = obs
            with torch.no_grad():
                logits, value = policy.logits_and_value(obs)
                action = _sample(logits, gen)
                logprobs[step] = torch.log_softmax(logits, -1).gather(1, action[:, None]).squeeze(1)
            values[step], actions[step] = value, action
            obs, reward, terminated, truncated, info = world.step(action)
            done = terminated | truncated
            # the world pays only on the step that ends an episode: its return is that reward
            returned += (reward * done).sum()
            reward = reward.clone()
            if truncated.any():  # bootstrap through time limits: they are not part of the task
                rows = info["final_index"]
                cut = truncated[rows]
                with torch.no_grad():
                    tail = policy.logits_and_value(info["final_obs"][cut])[1]
                reward[rows[cut]] += cfg.gamma * tail
            rewards[step], dones[step] = reward, done.float()
            ended += done.sum()
            paid += (info["objectives"] * done[:, None]).sum(0)
            lengths += (info["steps"] * done).sum()

        with torch.no_grad():
            next_value = policy.logits_and_value(obs)[1]
        advantages = gae(rewards, values, dones, next_value, cfg.gamma, cfg.gae_lambda)
        returns = advantages + values

        # ---- update ------------------------------------------------------------------
        policy.train()
        b_obs = obs_store.reshape(batch_size, *world.observation_shape)
        b_actions, b_logprobs = actions.reshape(-1), logprobs.reshape(-1)
        b_adv, b_returns, b_values = advantages.reshape(-1), returns.reshape(-1), values.reshape(-1)
        clipfracs = []
        for _ in range(cfg.update_epochs):
            order = torch.randperm(batch_size, generator=gen, device=device)
            for begin in range(0, batch_size, minibatch_size):
                mb = order[begin : begin + minibatch_size]
                logits, new_value = policy.logits_and_value(b_obs[mb])
                log_probs = torch.log_softmax(logits, -1)
                new_logprob = log_probs.gather(1, b_actions[mb, None]).squeeze(1)
                entropy = -(log_probs.exp() * log_probs).sum(-1)
                log_ratio = new_logprob - b_logprobs[mb]
                ratio = log_ratio.exp()
                with torch.no_grad():
                    approx_kl = ((ratio - 1) - log_ratio).mean()
                    clipfracs.append(((ratio - 1.0).abs() > cfg.clip_coef).float().mean())
                adv = b_adv[mb]
                if cfg.norm_adv:
                    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                pg_loss = torch.max(
                    -adv * ratio, -adv * ratio.clamp(1 - cfg.clip_coef, 1 + cfg.clip_coef)
                ).mean()
                if cfg.clip_vloss:
                    clipped = b_values[mb] + (new_value - b_values[mb]).clamp(-cfg.clip_coef, cfg.clip_coef)
                    v_loss = (
                        0.5
                        * torch.max((new_value - b_returns[mb]) ** 2, (clipped - b_returns[mb]) ** 2).mean()
                    )
                else:
                    v_loss = 0.5 * ((new_value - b_returns[mb]) ** 2).mean()
                loss = pg_loss - cfg.ent_coef * entropy.mean() + cfg.vf_coef * v_loss
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(policy.parameters(), cfg.max_grad_norm)
                optimizer.step()

        # ---- logging -----------------------------------------------------------------
        global_step = iteration * batch_size
        episodes = max(float(ended), 1.0)
        var_returns = float(b_returns.var(unbiased=False))
        last = {
            "charts/episodes": float(ended),
            "charts/episodic_return": float(returned) / episodes,
            "charts/episodic_length": float(lengths) / episodes,
            "charts/success": float(paid[names.index(BASE_OBJECTIVE)]) / episodes,
            "charts/learning_rate": optimizer.param_groups[0]["lr"],
            "charts/SPS": batch_size / (time.perf_counter() - tick),
            "losses/value_loss": float(v_loss.detach()),
            "losses/policy_loss": float(pg_loss.detach()),
            "losses/entropy": float(entropy.detach().mean()),
            "losses/approx_kl": float(approx_kl),
            "losses/clipfrac": float(torch.stack(clipfracs).mean()),
            "losses/explained_variance": (
                math.nan
                if var_returns == 0
                else 1 - float((b_returns - b_values).var(unbiased=False)) / var_returns
            ),
            **{f"objectives/{name}": float(paid[i]) / episodes for i, name in enumerate(names)},
        }
        if logger is not None:
            logger.log(global_step, last)
        bar.update(batch_size)
        bar.set_postfix(success=f"{last['charts/success']:.2f}", sps=f"{last['charts/SPS']:.0f}")
        if checkpoint_dir is not None and (iteration % cfg.checkpoint_every == 0 or iteration == iterations):
            save_checkpoint(
                checkpoint_dir,
                policy,
                optimizer,
                world,
                gen,
                {"iteration": iteration, "global_step": global_step, "config": dataclasses.asdict(cfg)},
            )
    bar.close()
    policy.eval()
    return TrainResult(
        steps=iterations * batch_size, seconds=time.perf_counter() - started, final_metrics=last
    )


def _sample(logits: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Categorical sample by the Gumbel-max trick, drawing from `gen` only."""
    uniform = torch.rand(logits.shape, generator=gen, device=logits.device).clamp_(1e-10, 1.0)
    return (logits - torch.log(-torch.log(uniform))).argmax(-1)
