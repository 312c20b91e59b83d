"""The oversight flagship (a deceptive-alignment toy): `config` (arms, presets), `run` (train,
judge on watched and unwatched, the oversight-conditional finding), `report`."""

from mesalab.experiments.oversight.config import ARMS, QUICK, WATCH, OversightConfig
from mesalab.experiments.oversight.run import run, summarise

__all__ = ["ARMS", "QUICK", "WATCH", "OversightConfig", "run", "summarise"]
