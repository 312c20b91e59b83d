"""Judge a policy under shift: assess it, infer its objective, decide the verdict.

`judge(policy, "red-door/train", ["red-door/deploy"], episodes=300, seed=0)` is the one
pipeline every caller uses (experiments, `mesalab assess`, the audit, `break`): roll the
policy out on its training distribution and on each shift, infer the objective the
actions pursue on each shift (and, when asked, on the training distribution and on all
shifts pooled), and decide a verdict per shift against the training success.

Seeds are data: `seed` is one int for every rollout, or a function of the distribution's
name (`lambda name: derive_seed31(seed, "eval", name)`), so each caller keeps its seed
paths. `judge_assessments` does the inference and verdicts for rollouts a caller made
itself (`break` scores many shifts before it picks the worst).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from mesalab.envs.gridworld import WorldSpec
from mesalab.shift.confidence import RESAMPLES, bootstrap_verdict
from mesalab.shift.evaluate import Assessment, Policy, assess
from mesalab.shift.infer import Inference, infer_from_tables, infer_objective, step_tables
from mesalab.shift.oversight import FINDING, oversight_finding
from mesalab.shift.verdict import Verdict, VerdictConfig, decide_verdict

SeedFor = int | Callable[[str], int]
"""One seed for every rollout, or the seed of each distribution by name."""


@dataclass(frozen=True)
class Judgement:
    """A policy's rollouts on its training distribution and each shift, read and judged."""

    trained_on: str
    """The distribution whose success counts as the training success."""
    shifts: tuple[str, ...]
    """The shifted distributions judged (one may be `trained_on` itself)."""
    assessments: dict[str, Assessment]
    """Rollouts by distribution name: `trained_on` first, then the shifts in order."""
    inferences: dict[str, Inference]
    """The inferred objective per distribution (every shift; `trained_on` when asked)."""
    verdicts: dict[str, Verdict]
    """The verdict per shift."""
    pooled: Inference | None = None
    """The objective inferred from all shifts' steps together, when asked."""
    findings: dict[str, Any] | None = None
    """Findings beside the verdicts, by name: `oversight-conditional` (`shift/oversight.py`)
    where a judged world has an overseer; None where none applies."""

    @property
    def train_success(self) -> float:
        return self.assessments[self.trained_on].success()["rate"]

    def to_dict(self) -> dict[str, Any]:
        """Per distribution: its summary with `inference` (and `verdict` on shifts);
        `_pooled_shifts` holds the pooled inference when there is one."""
        out: dict[str, Any] = {}
        for name, assessment in self.assessments.items():
            entry: dict[str, Any] = assessment.summary()
            if name in self.inferences:
                entry["inference"] = self.inferences[name].to_dict()
            if name in self.verdicts:
                entry["verdict"] = self.verdicts[name].to_dict()
            out[name] = entry
        if self.pooled is not None:
            out["_pooled_shifts"] = {"inference": self.pooled.to_dict()}
        if self.findings:
            out["_findings"] = self.findings
        return out


def judge(
    policy: Policy,
    trained_on: str,
    shifts: Sequence[str],
    episodes: int,
    seed: SeedFor,
    *,
    specs: Mapping[str, WorldSpec] | None = None,
    obs_mode: str = "symbolic",
    device: str | torch.device = "cpu",
    layout_seed: int | None = None,
    verdict: VerdictConfig | None = None,
    infer_trained: bool = False,
    pooled: bool = False,
    resamples: int = RESAMPLES,
) -> Judgement:
    """Assess `policy` on `trained_on` and every shift, then `judge_assessments`.

    `specs` gives the spec to roll out for a name that is not (only) a registered
    distribution, e.g. a held-out layout bank; its assessment is still filed under the name.
    """
    specs = specs or {}
    assessments: dict[str, Assessment] = {}
    for name in (trained_on, *shifts):
        if name in assessments:  # the same name, spec and seed: the same rollouts
            continue
        world: str | WorldSpec = specs.get(name, name)
        rollout_seed = seed(name) if callable(seed) else seed
        assessments[name] = assess(
            policy, world, episodes, rollout_seed, obs_mode=obs_mode, device=device, layout_seed=layout_seed
        )
        assessments[name].distribution = name
    return judge_assessments(
        trained_on,
        assessments,
        shifts,
        verdict,
        infer_trained=infer_trained,
        pooled=pooled,
        resamples=resamples,
    )


def judge_assessments(
    trained_on: str,
    assessments: Mapping[str, Assessment],
    shifts: Sequence[str] | None = None,
    verdict: VerdictConfig | None = None,
    *,
    infer_trained: bool = False,
    pooled: bool = False,
    resamples: int = RESAMPLES,
) -> Judgement:
    """Infer the objective on each shift (default: every key but `trained_on`) and decide its
    verdict against the success on `trained_on`; each verdict carries its bootstrap
    confidence over `resamples` resamples of the episodes (0: none)."""
    shifts = tuple(shifts if shifts is not None else [n for n in assessments if n != trained_on])
    train_success = assessments[trained_on].success()["rate"]
    inferences: dict[str, Inference] = {}
    verdicts: dict[str, Verdict] = {}
    for name in dict.fromkeys((trained_on, *shifts)):
        if not (name in shifts or infer_trained):
            continue
        tables = step_tables(assessments[name])  # once: the inference and its bootstrap share it
        inferences[name] = infer_from_tables(tables)
        if name in shifts:
            shifted = assessments[name].success()["rate"]
            verdicts[name] = decide_verdict(train_success, shifted, inferences[name], verdict)
            if resamples > 0:
                verdicts[name].confidence = bootstrap_verdict(
                    assessments[trained_on],
                    assessments[name],
                    verdicts[name],
                    verdict,
                    resamples,
                    tables=tables,
                )
    ordered = {name: assessments[name] for name in (trained_on, *shifts)}
    together = infer_objective([assessments[n] for n in shifts]) if pooled else None
    oversight = oversight_finding(ordered)
    findings = {FINDING: oversight} if oversight is not None else None
    return Judgement(trained_on, shifts, ordered, inferences, verdicts, together, findings)
