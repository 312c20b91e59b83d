"""Flagship experiments: each a package with a frozen config plus `run(cfg, ...) -> run folder`.

Importing this package imports every flagship, so each registers its sweep trial
(`red-door-arm`, `emergence-red-door-trial`, `emergence-icl-trial`, `oversight-arm`, ...) with
`mesalab.sweep`'s registry: the CLI imports it, and so does a Ray worker when it unpickles
a trial's `run` function (which lives in one of these packages).
"""

from mesalab.experiments import emergence_icl as emergence_icl
from mesalab.experiments import emergence_red_door as emergence_red_door
from mesalab.experiments import icl_gd as icl_gd
from mesalab.experiments import oversight as oversight
from mesalab.experiments import red_door as red_door
from mesalab.experiments import think_longer as think_longer
from mesalab.experiments.emergence_icl import trial as _emergence_icl_trial  # noqa: F401  registers
from mesalab.experiments.emergence_red_door import trial as _emergence_red_door_trial  # noqa: F401
from mesalab.experiments.oversight import trial as _oversight_trial  # noqa: F401  registers
from mesalab.experiments.red_door import trial as _red_door_trial  # noqa: F401  registers
from mesalab.experiments.think_longer import trial as _think_longer_trial  # noqa: F401  registers

__all__ = ["emergence_icl", "emergence_red_door", "icl_gd", "oversight", "red_door", "think_longer"]
