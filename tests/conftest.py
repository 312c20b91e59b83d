"""Shared test setup: torch on one thread (the suite's budget assumes it)."""

from __future__ import annotations

import os

import torch

os.environ.setdefault("MESALAB_THREADS", "1")
torch.set_num_threads(1)
