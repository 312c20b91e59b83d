"""Detecting learned optimization: diagnostics that each return `Evidence`, and their aggregate.

Whether a system is an optimizer is a property of its internal structure, not of its
input-output behaviour; each diagnostic here reads one kind of evidence (see `DIAGNOSTICS`)
and says `inconclusive`, with the reason, where it cannot decide. `run_diagnostics` runs
them all on a `Subject`; `aggregate` combines them by stated rules. Every diagnostic leaves
no hook attached and no weight changed. `docs/detect.md` describes each one and the zoo
table it was scored on.
"""

from __future__ import annotations

from collections.abc import Callable

from mesalab.detect.aggregate import RULES, Aggregate, aggregate
from mesalab.detect.algorithm_match import algorithm_match
from mesalab.detect.compute_scaling import compute_scaling
from mesalab.detect.counterfactual import counterfactual_competence
from mesalab.detect.evidence import INCONCLUSIVE, NOT_OPTIMIZER, OPTIMIZER, VERDICTS, Evidence, Plot
from mesalab.detect.objective_descent import objective_descent
from mesalab.detect.retargeting import retargeting
from mesalab.detect.subject import Subject, from_entry, from_saved
from mesalab.errors import MesalabError

Diagnostic = Callable[[Subject, int], Evidence]

DIAGNOSTICS: dict[str, Diagnostic] = {
    "algorithm-match": algorithm_match,
    "objective-descent": objective_descent,
    "compute-scaling": compute_scaling,
    "retargeting": retargeting,
    "counterfactual-competence": counterfactual_competence,
}
"""Every diagnostic by name, in report order (structural first, the behavioural one last)."""


def run_diagnostics(
    subject: Subject, seed: int = 0, progress: Callable[[str], None] | None = None
) -> list[Evidence]:
    """Every diagnostic's evidence on `subject`, in `DIAGNOSTICS` order.

    `progress`, if given, is called with each diagnostic's name before it runs.

    A diagnostic that the model refuses (it raises `MesalabError` on the inputs the
    diagnostic needs, e.g. a shape it was not built for) is `inconclusive` with that reason.
    """
    out = []
    for name, fn in DIAGNOSTICS.items():
        if progress is not None:
            progress(name)
        try:
            out.append(fn(subject, seed))
        except MesalabError as exc:
            out.append(
                Evidence(
                    name,
                    None,
                    INCONCLUSIVE,
                    f"the model refused the diagnostic's inputs: {exc}",
                    name == "counterfactual-competence",
                )
            )
    return out


__all__ = [
    "DIAGNOSTICS",
    "INCONCLUSIVE",
    "NOT_OPTIMIZER",
    "OPTIMIZER",
    "RULES",
    "VERDICTS",
    "Aggregate",
    "Evidence",
    "Plot",
    "Subject",
    "aggregate",
    "from_entry",
    "from_saved",
    "run_diagnostics",
]
