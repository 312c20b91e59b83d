"""The icl-gd flagship: does a transformer trained on in-context regression learn gradient
descent? `config` (the config and `--quick` preset), `run` (train the three models, line
them up against the GD construction on every shift), `report`. The training loop is the
base optimizer `mesalab.train.supervised`."""

from mesalab.experiments.icl_gd.config import DEFAULT_SHIFTS, QUICK, IclGdConfig, with_steps
from mesalab.experiments.icl_gd.run import run

__all__ = ["DEFAULT_SHIFTS", "QUICK", "IclGdConfig", "run", "with_steps"]
