"""What both emergence experiments share: one sweep-and-report skeleton (`Variant`,
`run_emergence`, `write_report`, `load`); `emergence_red_door` and `emergence_icl` are
its two variants."""

from mesalab.experiments.emergence.report import write_report
from mesalab.experiments.emergence.sweep import CONFIG_FILE, Variant, load, run_emergence, spread

__all__ = ["CONFIG_FILE", "Variant", "load", "run_emergence", "spread", "write_report"]
