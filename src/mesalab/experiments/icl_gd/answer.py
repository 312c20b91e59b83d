"""The icl-gd answer box and reproduce line: what a reader takes away, and how to run it again."""

from __future__ import annotations

import math
from typing import Any

from mesalab.config import Config
from mesalab.experiments.icl_gd.config import QUICK, IclGdConfig
from mesalab.overrides import reproduce_command
from mesalab.report.html import Answer, Table, esc

MODELS = ("lsa-1", "lsa-3", "softmax-2")
"""The trained models, in the order the report lists them."""


def fmt(value: float, digits: int = 4) -> str:
    return f"{value:.{digits}g}"


def answer(results: dict[str, Any]) -> Answer:
    """The box on top: which reference each model is closest to, and how close."""
    rows = []
    for name in MODELS:
        model = results["models"][name]
        ref = model["matched_reference"]
        versus = model["versus"].get(ref, {})
        confidence = (model.get("verdict") or {}).get("confidence")
        rows.append(
            [
                name,
                ref,
                fmt(versus.get("sensitivity_cosine", math.nan), 3),
                f"{fmt(100 * versus.get('prediction_difference', math.nan), 3)}%",
                f"{model['loss'] / results['reference_loss']['gd-1']:.3g}"
                + ("" if confidence is None else f" (confidence {confidence:.0%})"),
            ]
        )
    lsa1 = results["models"]["lsa-1"]
    cosine = lsa1["versus"][lsa1["matched_reference"]]["sensitivity_cosine"]
    finding = (
        f"The 1-layer linear self-attention model is closest to {lsa1['matched_reference']}: "
        f"its sensitivity to the context lines up with it at cosine {fmt(cosine, 3)} "
        "(1: the same algorithm)."
    )
    headers = [
        "model",
        "closest reference",
        "sensitivity cosine",
        "prediction difference",
        "loss / gd-1 loss",
    ]
    return Answer(esc(finding), Table(headers, rows))


def reproduce(cfg: Config) -> str:
    return reproduce_command("mesalab run icl-gd", cfg, {"": IclGdConfig(), "--quick": QUICK})
