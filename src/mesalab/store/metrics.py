"""Metrics named `namespace/name`, to `metrics.jsonl` and to TensorBoard when installed.

TensorBoard the way cleanrl users read it: one event folder per trained model (the caller
passes `tensorboard/{arm}-seed{s}`), scalar tags exactly the metric names
(`charts/episodic_return`, `losses/value_loss`), never prefixed by the logger's `tag`, which
names the model in `metrics.jsonl` only. `truncate_after(step)` (a resumed run) trims both:
the JSON lines of this tag, and the event folder, rewritten from the lines kept.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from mesalab.store.runs import finite, write_text_atomic


class MetricsLogger:
    """Appends one JSON line per `log` call: `{"step": s, "tag": ..., "losses/value": v, ...}`.

    With `tensorboard_dir` (and tensorboard installed) the same scalars go to that folder,
    which this logger owns: one folder per trained model, written by one tag."""

    def __init__(self, path: Path | None, tensorboard_dir: Path | None = None, tag: str = "") -> None:
        self.path, self.tag, self.tensorboard_dir = path, tag, tensorboard_dir
        self._handle = open(path, "a", encoding="utf-8") if path is not None else None  # noqa: SIM115
        self._writer: Any = None  # opened at the first scalar: no empty event files
        self._purge_step: int | None = None
        self.history: list[dict[str, float]] = []

    def log(self, step: int, metrics: dict[str, float]) -> None:
        for name in metrics:
            if "/" not in name:
                raise ValueError(f"metric {name!r} must be named namespace/name")
        clean = {k: float(v) for k, v in metrics.items() if v is not None and math.isfinite(float(v))}
        row: dict[str, Any] = {"step": int(step), **({"tag": self.tag} if self.tag else {}), **clean}
        self.history.append({"step": float(step), **clean})
        if self._handle is not None:
            self._handle.write(json.dumps(finite(row), allow_nan=False) + "\n")
            self._handle.flush()
        self._write_scalars(int(step), clean)

    def _write_scalars(self, step: int, scalars: dict[str, float]) -> None:
        if self.tensorboard_dir is None:
            return
        if self._writer is None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard is an optional extra
                self.tensorboard_dir = None
                return
            self._writer = SummaryWriter(str(self.tensorboard_dir), purge_step=self._purge_step)
        for name, value in scalars.items():
            self._writer.add_scalar(name, value, step)

    def truncate_after(self, step: int) -> None:
        """Drop what this logger's tag logged after `step` (a resumed run logs it again): its
        rows of `metrics.jsonl`, and its TensorBoard folder, rewritten from the rows kept."""
        self.history = [h for h in self.history if h["step"] <= step]
        mine: list[dict[str, Any]] = []
        if self.path is not None and self._handle is not None:
            self._handle.close()
            kept = [row for row in read_metrics(self.path) if not _drop(row, self.tag, step)]
            write_text_atomic(
                self.path, "".join(json.dumps(finite(row), allow_nan=False) + "\n" for row in kept)
            )
            self._handle = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
            mine = [row for row in kept if row.get("tag", "") == self.tag]
        if self.tensorboard_dir is None:
            return
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self.path is None:  # no rows to rewrite from: TensorBoard hides the events after `step`
            self._purge_step = step + 1
            return
        for old in self.tensorboard_dir.glob("events.out.tfevents.*"):
            old.unlink()
        for row in mine:
            self._write_scalars(int(row["step"]), {k: v for k, v in row.items() if k not in ("step", "tag")})

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __enter__(self) -> MetricsLogger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _drop(row: dict[str, Any], tag: str, step: int) -> bool:
    return row.get("tag", "") == tag and int(row.get("step", 0)) > step


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The rows of a `metrics.jsonl` (a truncated last line is skipped)."""
    rows: list[dict[str, Any]] = []
    if not path.exists():
        return rows
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows
