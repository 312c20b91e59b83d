"""The emergence-red-door flagship: how much training diversity makes the red-door proxy
go away? `config` (trial and sweep configs, presets), `trial` (one PPO policy on a
train/diverse mixture, judged on deploy), `run` (the sweep and its aggregate, a variant of
`mesalab.experiments.emergence`), `report`."""

from mesalab.experiments.emergence_red_door.config import (
    DEFAULT_FRACTIONS,
    DEFAULT_TRIAL,
    QUICK,
    QUICK_FRACTIONS,
    QUICK_TRIAL,
    TRIAL_NAME,
    EmergenceRedDoorConfig,
    EmergenceRedDoorTrialConfig,
)
from mesalab.experiments.emergence_red_door.run import RULE, aggregate, finding, load, run
from mesalab.experiments.emergence_red_door.trial import behaviour_pursues_proxy, run_trial

__all__ = [
    "DEFAULT_FRACTIONS",
    "DEFAULT_TRIAL",
    "QUICK",
    "QUICK_FRACTIONS",
    "QUICK_TRIAL",
    "RULE",
    "TRIAL_NAME",
    "EmergenceRedDoorConfig",
    "EmergenceRedDoorTrialConfig",
    "aggregate",
    "behaviour_pursues_proxy",
    "finding",
    "load",
    "run",
    "run_trial",
]
