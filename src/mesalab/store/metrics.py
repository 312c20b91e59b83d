"""Metrics named `namespace/name`, to `metrics.jsonl` and to TensorBoard when installed."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any


class MetricsLogger:
    """Appends one JSON line per `log` call: `{"step": s, "tag": ..., "losses/value": v, ...}`."""

    def __init__(self, path: Path | None, tensorboard_dir: Path | None = None, tag: str = "") -> None:
        self.path, self.tag = path, tag
        self._handle = open(path, "a", encoding="utf-8") if path is not None else None  # noqa: SIM115
        self._writer: Any = None
        if tensorboard_dir is not None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard is an optional extra
                self._writer = None
            else:
                self._writer = SummaryWriter(str(tensorboard_dir))
        self.history: list[dict[str, float]] = []

    def log(self, step: int, metrics: dict[str, float]) -> None:
        for name in metrics:
            if "/" not in name:
                raise ValueError(f"metric {name!r} must be named namespace/name")
        clean = {k: float(v) for k, v in metrics.items() if v is not None and math.isfinite(float(v))}
        row: dict[str, Any] = {"step": int(step), **({"tag": self.tag} if self.tag else {}), **clean}
        self.history.append({"step": float(step), **clean})
        if self._handle is not None:
            self._handle.write(json.dumps(row) + "\n")
            self._handle.flush()
        if self._writer is not None:
            for name, value in clean.items():
                self._writer.add_scalar(f"{self.tag}/{name}" if self.tag else name, value, step)

    def truncate_after(self, step: int) -> None:
        """Drop rows of this logger's tag logged after `step` (a resumed run logs them again)."""
        if self.path is None or self._handle is None:
            return
        self._handle.close()
        kept = [
            row
            for row in read_metrics(self.path)
            if row.get("tag", "") != self.tag or int(row.get("step", 0)) <= step
        ]
        self.path.write_text("".join(json.dumps(row) + "\n" for row in kept), encoding="utf-8")
        self._handle = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
        self.history = [h for h in self.history if h["step"] <= step]

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
