"""Inference counts only the steps that make progress (issue 12): checked against a slow,
obvious count from the trajectories. Keeping every step (the pooling that called a corner
walker and the diversity-0 red-door policies `capability-failure`) must fail here."""

from __future__ import annotations

import torch

from mesalab.models.scripted import CornerSeeker
from mesalab.shift import assess
from mesalab.shift.infer import infer_objective
from mesalab.shift.progress import end_cells, progress_steps


def _last_new_cell(path: list[int]) -> int:
    """The time of the last step that reached a cell not visited before in this episode."""
    last, seen = 0, set()
    for t, cell in enumerate(path):
        if cell not in seen:
            seen.add(cell)
            last = t
    return last


def test_progress_steps_stop_at_the_last_new_cell_and_inference_sees_only_them() -> None:
    torch.set_num_threads(1)
    assessment = assess(CornerSeeker("bottom-right"), "red-door/deploy", 40, 2)
    keep = progress_steps(assessment).cpu()
    episode = assessment.step_episode.cpu()
    for e, path in enumerate(assessment.trajectories):
        assert int(keep[episode == e].sum()) == _last_new_cell(path), e
        assert bool(keep[episode == e][: _last_new_cell(path)].all()), e  # a prefix of the episode
    bouncing = int((~keep).sum())
    assert bouncing > 100  # the corner seeker spends many steps next to its corner
    assert infer_objective(assessment).steps == int(keep.sum())


def test_end_cells_count_truncated_episodes_by_their_last_cell() -> None:
    torch.set_num_threads(1)
    assessment = assess(CornerSeeker("bottom-right"), "red-door/deploy", 40, 2)
    ends = [p[-1] for p, r in zip(assessment.trajectories, assessment.reached.tolist(), strict=True) if r < 0]
    size = assessment.start_states.size
    top = end_cells([assessment])
    expected = max(set(ends), key=lambda c: (ends.count(c), -c))
    assert (top[0]["row"], top[0]["col"]) == (expected // size, expected % size)
    assert top[0]["share"] == ends.count(expected) / 40
