"""TensorBoard as cleanrl users read it: a run folder per model, plain tags, no duplicated steps."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import torch

from mesalab.envs.gridworld import GridWorld, get_distribution
from mesalab.envs.gridworld.objectives import candidate_names
from mesalab.envs.icl import TaskSpec
from mesalab.models.lsa import LinearSelfAttention, LSAConfig
from mesalab.models.policy import ActorCritic, PolicyConfig
from mesalab.store.metrics import MetricsLogger, read_metrics
from mesalab.train import bc, ppo
from mesalab.train.supervised import TrainSettings
from mesalab.train.supervised import train as train_supervised

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
from tensorboard.compat.proto import event_pb2

TINY = get_distribution("red-door/train").replace(size=5, max_steps=20)
CFG = ppo.PPOConfig(total_steps=16 * 8 * 4, num_steps=8, checkpoint_every=1, seed=3)
"""Four iterations of 16 worlds x 8 steps, a checkpoint after each."""
PPO_TAGS = {
    "charts/episodic_return",
    "charts/episodic_length",
    "charts/SPS",
    "charts/success",
    "charts/episodes",
    "charts/learning_rate",
    "losses/explained_variance",
    "losses/value_loss",
    "losses/policy_loss",
    "losses/entropy",
    "losses/approx_kl",
    "losses/clipfrac",
}


def scalars(folder: Path) -> list[tuple[str, int]]:
    """Every `(tag, step)` scalar in the event files of `folder`, read raw (no purging)."""
    found = []
    for path in sorted(folder.glob("events.out.tfevents.*")):
        for record in RawEventFileLoader(str(path)).Load():
            event = event_pb2.Event.FromString(record)
            found += [(value.tag, int(event.step)) for value in event.summary.value]
    return found


def _policy(seed: int = 0) -> ActorCritic:
    torch.manual_seed(seed)
    return ActorCritic(PolicyConfig(size=TINY.size))


def test_ppo_writes_one_run_folder_with_cleanrl_tags(tmp_path: Path) -> None:
    board = tmp_path / "tensorboard" / "narrow-seed0"
    with MetricsLogger(tmp_path / "metrics.jsonl", tensorboard_dir=board, tag="narrow/seed0") as log:
        ppo.train(CFG, GridWorld(TINY, 16, seed=5), _policy(), log, progress=False)
    tags = {tag for tag, _ in scalars(board)}
    assert tags == PPO_TAGS | {f"objectives/{name}" for name in candidate_names()}
    assert not any(tag.startswith("narrow") for tag in tags)  # the model is the folder, not a prefix
    rows = read_metrics(tmp_path / "metrics.jsonl")
    assert {row["tag"] for row in rows} == {"narrow/seed0"} and "losses/explained_variance" in rows[-1]


class Interrupted(MetricsLogger):
    """Logs the row of iteration 3, then dies before its checkpoint is written."""

    def log(self, step: int, metrics: dict[str, float]) -> None:
        super().log(step, metrics)
        if step == 3 * 16 * 8:
            raise KeyboardInterrupt


def test_resume_leaves_no_duplicated_steps(tmp_path: Path) -> None:
    board, path, ckpt = tmp_path / "tb" / "narrow-seed0", tmp_path / "metrics.jsonl", tmp_path / "ckpt"
    with pytest.raises(KeyboardInterrupt), Interrupted(path, tensorboard_dir=board, tag="a") as log:
        ppo.train(CFG, GridWorld(TINY, 16, seed=5), _policy(), log, ckpt, resume=True, progress=False)
    assert Counter(step for tag, step in scalars(board) if tag == "charts/SPS") == {128: 1, 256: 1, 384: 1}
    with MetricsLogger(path, tensorboard_dir=board, tag="a") as log:
        ppo.train(CFG, GridWorld(TINY, 16, seed=5), _policy(), log, ckpt, resume=True, progress=False)
    assert [row["step"] for row in read_metrics(path)] == [128, 256, 384, 512]
    events = scalars(board)
    assert len(events) == len(set(events))
    assert sorted(step for tag, step in events if tag == "charts/episodic_return") == [128, 256, 384, 512]


def test_an_attempt_without_a_checkpoint_is_dropped_on_resume(tmp_path: Path) -> None:
    board, path = tmp_path / "tb", tmp_path / "metrics.jsonl"
    cfg = CFG.replace(checkpoint_every=100)  # dies before its first checkpoint
    with pytest.raises(KeyboardInterrupt), Interrupted(path, tensorboard_dir=board, tag="a") as log:
        ppo.train(
            cfg, GridWorld(TINY, 16, seed=5), _policy(), log, tmp_path / "c", resume=True, progress=False
        )
    with MetricsLogger(path, tensorboard_dir=board, tag="a") as log:
        ppo.train(
            cfg, GridWorld(TINY, 16, seed=5), _policy(), log, tmp_path / "c", resume=True, progress=False
        )
    assert [row["step"] for row in read_metrics(path)] == [128, 256, 384, 512]
    events = scalars(board)
    assert len(events) == len(set(events))


def test_bc_and_supervised_log_plain_tags(tmp_path: Path) -> None:
    with MetricsLogger(None, tensorboard_dir=tmp_path / "bc-seed0") as log:
        bc.train(
            bc.BCConfig(total_steps=256, num_steps=8), GridWorld(TINY, 16, seed=1), _policy(), log, False
        )
    assert {tag for tag, _ in scalars(tmp_path / "bc-seed0")} == {
        "losses/bc_loss",
        "charts/episodic_return",
        "charts/episodic_length",
        "charts/success",
        "charts/SPS",
    }

    settings = TrainSettings(
        steps=4, batch_size=8, lr=1e-3, final_lr_fraction=0.1, eval_every=2, grad_clip=1.0
    )
    model = LinearSelfAttention(LSAConfig(token_dim=3, n_layers=1))
    board = tmp_path / "lsa-1-seed0"
    with MetricsLogger(tmp_path / "m.jsonl", tensorboard_dir=board, tag="lsa-1") as log:
        train_supervised(
            model,
            TaskSpec(dim=2, n_context=4),
            settings,
            0,
            "lsa-1",
            log,
            lambda m: {"test_loss": 1.0, "cos": 0.5},
            torch.device("cpu"),
        )
    tags = {tag for tag, _ in scalars(board)}
    assert {
        "losses/train_loss",
        "losses/test_loss",
        "charts/cos",
        "charts/SPS",
        "charts/learning_rate",
    } <= tags
    rows = [json.loads(line) for line in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert [row["step"] for row in rows] == [0, 2, 4] and {row["tag"] for row in rows} == {"lsa-1"}


def test_a_run_folder_written_before_stays_readable_and_resumes(tmp_path: Path) -> None:
    """Before: one `tensorboard/` folder, tags prefixed by the model; rows named as then."""
    from torch.utils.tensorboard import SummaryWriter

    legacy = tmp_path / "tensorboard"
    with SummaryWriter(str(legacy)) as writer:
        writer.add_scalar("narrow/seed0/charts/success", 0.5, 128)
    old_row = {"step": 128, "tag": "narrow/seed0", "charts/success": 0.5, "charts/episode_length": 7.0}
    (tmp_path / "metrics.jsonl").write_text(
        json.dumps(old_row) + "\n" + json.dumps({**old_row, "step": 256}) + "\n"
    )
    with MetricsLogger(tmp_path / "metrics.jsonl", legacy / "narrow-seed0", tag="narrow/seed0") as log:
        log.truncate_after(128)
        log.log(256, {"charts/success": 0.75})
    assert scalars(legacy) == [("narrow/seed0/charts/success", 128)]  # the old events are left alone
    assert sorted(scalars(legacy / "narrow-seed0")) == [
        ("charts/episode_length", 128),
        ("charts/success", 128),
        ("charts/success", 256),
    ]
    assert [row["step"] for row in read_metrics(tmp_path / "metrics.jsonl")] == [128, 256]
