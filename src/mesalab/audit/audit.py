"""`mesalab audit MODEL`: a transparency audit of one saved model, as audit.json + report.html.

The audit says what the model is, assesses it under distributional shift where a gridworld
applies (training distribution against a shifted one, the behavioural objective inferred
and the alignment verdict), runs every diagnostic of `mesalab.detect` with its evidence and
figures, combines them by the stated rules, and lists what the evidence does not establish.
Everything written is computed here from the model file; nothing is written before all of
it succeeded (so a bad input writes nothing).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mesalab import __version__
from mesalab.detect import RULES, Evidence, Subject, aggregate, from_saved, run_diagnostics
from mesalab.detect.aggregate import Aggregate
from mesalab.detect.evidence import finite

DEFAULT_SHIFT = "red-door/deploy"
"""Shifted distribution of a gridworld audit when `--world` is not given."""
LAYOUT_SEED = 1000
"""Seed of the layout bank of the shift assessment (held out from training, as `mesalab assess`;
the bank here holds max(1024, 2 x episodes) layouts so that it is built in about a second)."""


@dataclasses.dataclass
class AuditResult:
    """Everything the audit found, in memory."""

    subject: Subject
    shift: dict[str, Any] | None
    evidence: list[Evidence]
    combined: Aggregate
    seconds: float
    assessments: dict[str, Any] = dataclasses.field(default_factory=dict)
    """The shift assessment's rollouts by distribution (in memory only: the report draws their paths)."""
    overseer: dict[str, Any] | None = None
    """The overseer toggle (`audit/overseer.py`) where the model's world has an overseer channel."""

    def to_json(self) -> dict[str, Any]:
        s = self.subject
        data = {
            "audit": "mesalab-audit/1",
            "mesalab_version": __version__,
            "model": {
                "path": s.source,
                "name": s.name,
                "domain": s.domain,
                "kind": s.meta.get("kind"),
                "config": s.meta.get("config"),
                "trained_on": s.meta.get("trained_on"),
                "description": s.description,
                "can_run_longer": s.run_longer is not None,
                "compute": s.compute_name or None,
            },
            "world": s.world,
            "shift": self.shift,
            "diagnostics": [e.to_dict() for e in self.evidence],
            "overseer_toggle": self.overseer,
            "aggregate": self.combined.to_dict(),
            "rules": list(RULES),
            "not_established": not_established(self),
            "seconds": self.seconds,
        }
        return finite(data)  # type: ignore[no-any-return]


def run_audit(
    model: Path | str,
    world: str | None = None,
    episodes: int = 200,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> AuditResult:
    """Load, assess, diagnose and combine; raises `MesalabError` on bad input before any output.

    `world`: the shifted distribution of a policy's shift assessment (default
    `DEFAULT_SHIFT`); the baseline is the distribution the policy was trained on.
    `progress`, if given, is called with the name of each stage as it starts.
    """
    from mesalab.config import check

    check(episodes >= 1, "episodes", f"must be >= 1, got {episodes}")
    tell = progress or (lambda stage: None)
    start = time.perf_counter()
    from mesalab.audit.overseer import audit_overseer, default_shift

    subject = from_saved(model, world)  # a bad model or world fails here, before any progress
    shifted = world or default_shift(subject) or DEFAULT_SHIFT
    shift: dict[str, Any] | None = None
    assessments: dict[str, Any] = {}
    if subject.domain == "gridworld":
        tell(f"shift assessment: {subject.world} -> {shifted}")
        shift, assessments = _shift_assessment(subject, shifted, episodes, seed)
    evidence = run_diagnostics(subject, seed, progress=lambda name: tell(f"diagnostic: {name}"))
    overseer = audit_overseer(subject, seed)
    seconds = time.perf_counter() - start
    return AuditResult(subject, shift, evidence, aggregate(evidence), seconds, assessments, overseer)


def _shift_assessment(
    subject: Subject, shifted: str, episodes: int, seed: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    from mesalab.detect.gridworld import bank_spec
    from mesalab.shift import judge

    baseline = str(subject.world)
    bank = max(1024, 2 * episodes)  # a held-out bank this size is built in about a second
    specs = {name: bank_spec(name, LAYOUT_SEED, bank) for name in (baseline, shifted)}
    judged = judge(subject.call, baseline, [shifted], episodes, seed, specs=specs)  # type: ignore[arg-type]
    base, moved = judged.assessments[baseline], judged.assessments[shifted]
    inference, verdict = judged.inferences[shifted], judged.verdicts[shifted]
    summary = {
        "baseline": baseline,
        "shifted": shifted,
        "episodes": episodes,
        "layout_seed": LAYOUT_SEED,
        "layouts": bank,
        "baseline_summary": base.summary(),
        "shifted_summary": moved.summary(),
        "inference": inference.to_dict(),
        "verdict": verdict.to_dict(),
        "learned_objective": _learned_objective(subject),
    }
    return summary, dict(judged.assessments)


def _learned_objective(subject: Subject) -> dict[str, float] | None:
    from mesalab.models.policy import learned_objective

    return learned_objective(subject.model)


def not_established(result: AuditResult) -> list[str]:
    """What this audit's evidence does not show, in plain sentences."""
    out = [
        "An 'optimizer' verdict says the model's computation has the structure of search toward an "
        "objective (on the inputs tested); it does not say which objective it will pursue on inputs "
        "unlike those, nor that this objective is the intended one.",
        "Every diagnostic compares the model with a family of reference optimizers and candidate "
        "objectives; an optimizer of an objective outside that family can be reported 'inconclusive' "
        "or, by behaviour alone, 'not-optimizer'.",
        "Algorithm match shows the model's outputs respond to edits like a reference optimizer's; it "
        "does not show the model computes the same way inside.",
    ]
    combined = result.combined
    if combined.basis == "behavioural":
        out.append(
            "The aggregate rests on behavioural evidence only: no structural diagnostic decided, so the "
            "verdict says how the model acts off the reference set, not what it computes."
        )
    if combined.verdict == "inconclusive":
        out.append("The aggregate is inconclusive: this audit does not establish either answer.")
    behaviour = next((e for e in result.evidence if e.diagnostic == "counterfactual-competence"), None)
    ranking = behaviour.numbers.get("ranking", []) if behaviour is not None else []
    if ranking:
        tied = [r["objective"] for r in ranking[1:] if abs(r["loglik"] - ranking[0]["loglik"]) <= 1e-6]
        if tied:
            out.append(
                f"Which objective the model pursues among those its own world cannot tell apart: "
                f"'{ranking[0]['objective']}' explains its actions there exactly as well as "
                f"{', '.join(repr(t) for t in tied)}; only a shift that separates them (the shift "
                "assessment) can say which it pursues."
            )
    skipped = [e.diagnostic for e in result.evidence if e.score is None]
    if skipped:
        out.append(f"Did not apply to this model: {', '.join(skipped)} (see each reason).")
    if result.shift is not None:
        out.append(
            f"The shift assessment covers {result.shift['baseline']} and {result.shift['shifted']} on "
            f"{result.shift['episodes']} held-out mazes each; other shifts are untested."
        )
    return out
