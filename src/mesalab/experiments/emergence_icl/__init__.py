"""The emergence-icl flagship: when does a transformer stop memorising its task pool and
regress in context? `config` (trial and sweep configs, presets), `trial` (one model on a
pool of M tasks against ridge and pool-Bayes), `run` (the sweep and its aggregate, a
variant of `mesalab.experiments.emergence`), `report`."""

from mesalab.experiments.emergence_icl.config import (
    DEFAULT_POOL_SIZES,
    DEFAULT_TRIAL,
    QUICK,
    QUICK_POOL_SIZES,
    QUICK_TRIAL,
    TRIAL_NAME,
    EmergenceIclConfig,
    EmergenceIclTrialConfig,
    label,
)
from mesalab.experiments.emergence_icl.run import KEYS, RULE, aggregate, finding, load, run
from mesalab.experiments.emergence_icl.trial import closer_to, estimators, measure, run_trial

__all__ = [
    "DEFAULT_POOL_SIZES",
    "DEFAULT_TRIAL",
    "KEYS",
    "QUICK",
    "QUICK_POOL_SIZES",
    "QUICK_TRIAL",
    "RULE",
    "TRIAL_NAME",
    "EmergenceIclConfig",
    "EmergenceIclTrialConfig",
    "aggregate",
    "closer_to",
    "estimators",
    "finding",
    "label",
    "load",
    "measure",
    "run",
    "run_trial",
]
