"""Shift the world and find out which objective a policy pursues.

`assess` rolls a policy out on a named distribution and records every candidate
objective side by side; `infer_objective` fits a Boltzmann-rational agent per candidate;
`decide_verdict` names the result: robust, pseudo-aligned (with the proxy), or a
capability failure. `judge` runs the three in order: the one entry point for judging a shift.
"""

from mesalab.shift.evaluate import Assessment, assess
from mesalab.shift.infer import Inference, infer_objective
from mesalab.shift.judge import Judgement, judge, judge_assessments
from mesalab.shift.stats import wilson_interval
from mesalab.shift.verdict import Verdict, VerdictConfig, decide_verdict

__all__ = [
    "Assessment",
    "Inference",
    "Judgement",
    "Verdict",
    "VerdictConfig",
    "assess",
    "decide_verdict",
    "infer_objective",
    "judge",
    "judge_assessments",
    "wilson_interval",
]
