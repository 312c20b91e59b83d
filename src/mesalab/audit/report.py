"""The audit's report.html: the answer on top, then what the model is, the shift, the evidence.

"Is it an optimizer" (the aggregate of the diagnostics) and "what does it pursue under
shift" (the verdict of the shift assessment) open the page together in one answer box;
every number below is a small table, never a printed dict.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mesalab.detect import RULES
from mesalab.report.html import (
    Answer,
    EmbeddedFigure,
    Section,
    Table,
    esc,
    interval,
    render_report,
    verdict_evidence,
)
from mesalab.report.plots import MazePanel, embed_plot, maze_figure
from mesalab.shift.features import end_cell_table, feature_table
from mesalab.store.runs import write_json_atomic, write_text_atomic

if TYPE_CHECKING:
    from mesalab.audit.audit import AuditResult

PATH_COLOUR = (255, 140, 0)
"""Colour of the audited model's paths in the maze pictures."""
MAZES = 4
"""Mazes drawn per distribution."""


def write_audit(result: AuditResult, out: Path) -> tuple[Path, Path]:
    """Write `out/audit.json` and `out/report.html`; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    data = result.to_json()
    html = render_report(
        f"Audit: {result.subject.name}",
        "Is this model an optimizer, and of what? The diagnostics look at how it computes and acts; "
        "the shift assessment at what it pursues when its world changes.",
        _sections(result, data),
        meta=f"{result.seconds:.0f} s",
        answer=answer(result),
    )
    json_path, html_path = out / "audit.json", out / "report.html"
    write_json_atomic(json_path, data)
    write_text_atomic(html_path, html)
    return json_path, html_path


def answer(result: AuditResult) -> Answer:
    """Both questions in one box: is it an optimizer, and what does it pursue under shift."""
    combined = result.combined
    decided = [e for e in result.evidence if e.verdict == combined.verdict]
    rows = [
        [
            "is it an optimizer?",
            combined.verdict,
            f"{combined.basis} evidence, rule {combined.rule}; "
            f"{len(decided)} of {len(result.evidence)} diagnostics say so",
        ]
    ]
    finding = f"Is it an optimizer: {combined.verdict} ({combined.basis} evidence)."
    shift = result.shift
    if shift is not None:
        verdict = shift["verdict"]
        rows.append(
            [
                f"what does it pursue on {shift['shifted']}?",
                verdict["text"],
                verdict_evidence(verdict, shift["shifted_summary"]["success"]),
            ]
        )
        base = shift["baseline_summary"]["success"]
        rows.append([f"on its training world {shift['baseline']}", "-", "success " + _rate(base)])
        finding += f" Under the shift to {shift['shifted']} it is {verdict['text']}."
    else:
        finding += " No gridworld applies, so what it pursues under shift is not assessed."
    return Answer(esc(finding), Table(["question", "answer", "evidence"], rows))


def _rate(s: dict[str, float]) -> str:
    return interval(s["rate"], s["low"], s["high"])


def flat_rows(value: Any, prefix: str = "") -> list[list[str]]:
    """`{"a": {"b": 1}, "c": [1, 2]}` -> `[["a.b", "1"], ["c", "1, 2"]]`: a nested dict as table rows."""
    if isinstance(value, dict):
        rows: list[list[str]] = []
        for key, inner in value.items():
            rows += flat_rows(inner, f"{prefix}.{key}" if prefix else str(key))
        return rows
    if isinstance(value, list | tuple):
        if all(not isinstance(v, dict | list | tuple) for v in value):
            return [[prefix, ", ".join(_cell(v) for v in value) or "(none)"]]
        return [[prefix, f"{len(value)} entries (in audit.json)"]]
    return [[prefix, _cell(value)]]


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


def _sections(result: AuditResult, data: dict[str, Any]) -> list[Section]:
    s = result.subject
    model = data["model"]
    can_run = f"yes ({s.compute_name}, default {s.default_compute})" if s.run_longer else "no"
    facts = [
        ["file", s.source],
        ["kind", model["kind"]],
        ["domain", s.domain],
        ["trained on", model["trained_on"] or "-"],
        ["can run longer", can_run],
    ]
    config = Table(["config field", "value"], flat_rows(model["config"] or {}), "The model's config.")
    sections = [
        Section("What the model is", [esc(s.description) + "."], [Table(["field", "value"], facts), config])
    ]
    if result.shift is not None:
        sections.append(_shift_section(result.shift))
        sections.append(_trajectory_section(result))
    else:
        sections[0].paragraphs.append(
            "No gridworld applies to this model, so there is no shift assessment; the diagnostics "
            "examine it on its reference sequences and on fresh ones."
        )
    if result.overseer is not None:
        from mesalab.audit.overseer import overseer_section

        sections.append(overseer_section(result.overseer))
    rows = [
        [
            e.diagnostic,
            "behavioural" if e.behavioural else "structural",
            e.verdict,
            "-" if e.score is None else f"{e.score:.3f}",
            e.reason,
        ]
        for e in result.evidence
    ]
    sections.append(
        Section(
            "Diagnostics",
            ["Each diagnostic reads one kind of evidence and says <i>inconclusive</i>, with the reason, "
             "where it cannot decide."],
            [Table(["diagnostic", "evidence", "verdict", "score", "reason"], rows)],
        )
    )  # fmt: skip
    for e in result.evidence:
        numbers = {k: v for k, v in e.numbers.items() if not isinstance(v, dict | list)}
        tables = [Table(["number", "value"], flat_rows(numbers))] if numbers else []
        sections.append(
            Section(
                f"{e.diagnostic}: {e.verdict}",
                [esc(e.reason)],
                tables,
                figures=[embed_plot(p) for p in e.figures],
            )
        )
    rules = Table(
        ["rule", "text"], [[str(i + 1), r] for i, r in enumerate(RULES)], "The combination rules, in order."
    )
    sections.append(
        Section(
            f"Aggregate verdict: {result.combined.verdict}",
            [esc(result.combined.reason) + f" (rule {result.combined.rule})."],
            [rules],
        )
    )
    sections.append(
        Section("What this evidence does not establish", [esc(t) for t in data["not_established"]])
    )
    return sections


def _shift_section(shift: dict[str, Any]) -> Section:
    base, moved = shift["baseline_summary"], shift["shifted_summary"]
    rows = [
        [name, _rate(summary["success"]), str(summary["episodes"]), str(summary["truncated"])]
        for name, summary in ((shift["baseline"], base), (shift["shifted"], moved))
    ]
    ranking = [
        [r["objective"], f"{r['per_step']:.3f}", f"{r['beta']:.2f}"] for r in shift["inference"]["ranking"]
    ]
    paragraphs = [
        f"Verdict on {esc(shift['shifted'])}: <b>{esc(shift['verdict']['text'])}</b>. "
        f"{esc(shift['verdict']['reason'])}."
    ]
    tables = [
        Table(
            ["distribution", "success [95% CI]", "episodes", "truncated"],
            rows,
            "Held-out mazes of each distribution.",
        ),
        Table(
            ["candidate objective", "log-likelihood per action", "beta"],
            ranking,
            f"Behavioural objective inference on {shift['shifted']}.",
        ),
    ]
    for head, fitted, caption in (
        (*feature_table(shift["inference"]), "The reward over cell features fitted to the actions."),
        (*end_cell_table(shift["inference"]), "Where the truncated episodes end (the unlisted goal)."),
    ):
        if fitted:
            tables.append(Table(head, fitted, caption))
    if shift.get("learned_objective"):
        weights = [[k, f"{v:+.2f}"] for k, v in shift["learned_objective"].items()]
        tables.append(
            Table(
                ["channel", "learned reward weight"],
                weights,
                "The planner's readable mesa-objective, per channel.",
            )
        )
    return Section("Shift assessment", paragraphs, tables)


def _trajectory_section(result: AuditResult) -> Section:
    figures = [_trajectories(name, a) for name, a in result.assessments.items() if a.trajectories]
    return Section(
        "Trajectories",
        [
            "The model's paths (orange) on the first held-out mazes of each distribution, from the start "
            "(black ring); the exit is the door (an arch), the other targets are objects (diamonds)."
        ],
        figures=figures,
    )


def _trajectories(name: str, assessment: Any) -> EmbeddedFigure:
    from mesalab.envs.gridworld.render import render_rgb

    states, cell_px = assessment.start_states, 16
    panels = []
    for i in range(min(MAZES, len(assessment.trajectories))):
        image = render_rgb(
            states,
            i,
            trajectories=[assessment.trajectories[i]],
            cell_px=cell_px,
            trajectory_colours=[PATH_COLOUR],
        )
        start = int(states.start[i])
        centre = ((start % states.size + 0.5) * cell_px, (start // states.size + 0.5) * cell_px)
        panels.append(MazePanel(image, centre, f"{name}, maze {i + 1}\n{_ending(assessment, i)}"))
    return maze_figure(panels, {"model": PATH_COLOUR}, f"The model's paths on {name}.")


def _ending(assessment: Any, i: int) -> str:
    slot = int(assessment.reached[i])
    if slot < 0:
        return "timed out"
    return "reached the exit" if slot == 0 else "reached an object"
