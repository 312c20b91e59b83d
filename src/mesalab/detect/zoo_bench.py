"""The zoo benchmark: every diagnostic on every zoo model, scored against the known truths.

`run_zoo(entries)` builds each entry's subject, runs every diagnostic and the aggregate,
and `score(results)` counts, per diagnostic and for the aggregate, the verdicts that are
correct, wrong and inconclusive on the entries whose truth is known. A diagnostic's
accuracy is correct / decided (its non-inconclusive verdicts on known entries).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from mesalab.detect import DIAGNOSTICS, aggregate, from_entry, run_diagnostics
from mesalab.detect.evidence import INCONCLUSIVE, finite


def run_entry(entry: Any, seed: int = 0) -> dict[str, Any]:
    """One entry's row: its truth, every diagnostic's evidence and the aggregate."""
    start = time.perf_counter()
    subject = from_entry(entry)
    evidence = run_diagnostics(subject, seed)
    combined = aggregate(evidence)
    return {
        "name": entry.name,
        "domain": entry.domain,
        "truth": entry.truth,
        "twin_of": entry.twin_of,
        "evidence": {e.diagnostic: e for e in evidence},
        "aggregate": combined,
        "seconds": time.perf_counter() - start,
    }


def run_zoo(entries: Iterable[Any], seed: int = 0, progress: bool = False) -> list[dict[str, Any]]:
    """Rows for every entry, in order."""
    items = list(entries)
    if progress:
        from tqdm import tqdm

        return [run_entry(e, seed) for e in tqdm(items, desc="zoo", unit="model", leave=False)]
    return [run_entry(e, seed) for e in items]


def _tally(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    known = [(truth, verdict) for truth, verdict in pairs if truth != "unknown"]
    decided = [(t, v) for t, v in known if v != INCONCLUSIVE]
    correct = sum(t == v for t, v in decided)
    return {
        "known": len(known),
        "correct": correct,
        "wrong": len(decided) - correct,
        "inconclusive": len(known) - len(decided),
        "accuracy": correct / len(decided) if decided else None,
    }


def score(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per diagnostic and for the aggregate: correct, wrong, inconclusive and accuracy on known entries."""
    out = {name: _tally([(r["truth"], r["evidence"][name].verdict) for r in rows]) for name in DIAGNOSTICS}
    out["aggregate"] = _tally([(r["truth"], r["aggregate"].verdict) for r in rows])
    return out


def to_json(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The benchmark as plain JSON: rows with their evidence, and the scores."""
    return finite(
        {
            "models": [
                {
                    **{k: r[k] for k in ("name", "domain", "truth", "twin_of", "seconds")},
                    "aggregate": r["aggregate"].to_dict(),
                    "diagnostics": {n: e.to_dict() for n, e in r["evidence"].items()},
                }
                for r in rows
            ],
            "scores": score(rows),
        }
    )
