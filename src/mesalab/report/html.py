"""Self-contained HTML reports: figures embedded as data URIs, no network, no scripts.

A report is a title, an `Answer` box (the finding in one sentence and the verdicts with
their intervals: what a reader takes away in 30 seconds), a lead paragraph and a list of
`Section`s; each section holds paragraphs, tables and figures. Every experiment builds its
report from these parts. Tables sit in a scrolling container and their cells wrap, so a
page never scrolls sideways at 800 px.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import io
from typing import Any

import jinja2
import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure

from mesalab import __version__


@dataclasses.dataclass
class Table:
    """A table: column headers and rows of cells (already formatted strings or numbers)."""

    headers: list[str]
    rows: list[list[Any]]
    caption: str = ""


@dataclasses.dataclass
class Answer:
    """The highlighted box a report opens with."""

    finding: str
    """The finding in one sentence; inline HTML, like a paragraph (escape user text with `esc`)."""
    table: Table | None = None
    """The verdicts behind it, one row each, with their intervals (or confidences)."""


@dataclasses.dataclass
class EmbeddedFigure:
    """A figure embedded as a PNG data URI, with a caption."""

    data_uri: str
    caption: str = ""


@dataclasses.dataclass
class Section:
    """A report section: heading, then paragraphs, tables and figures in that order."""

    heading: str
    paragraphs: list[str] = dataclasses.field(default_factory=list)
    tables: list[Table] = dataclasses.field(default_factory=list)
    figures: list[EmbeddedFigure] = dataclasses.field(default_factory=list)
    commands: list[str] = dataclasses.field(default_factory=list)
    """Shell commands shown as wrapped preformatted lines (after the tables)."""


def embed_figure(fig: Figure, caption: str = "", dpi: int = 110) -> EmbeddedFigure:
    """Render a matplotlib figure to an embedded PNG and close it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return EmbeddedFigure(png_data_uri(buffer.getvalue()), caption)


def png_data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


_TEMPLATE = jinja2.Environment(autoescape=True).from_string(
    """{% macro table(t) %}<div class="table-wrap"><table>
{%- if t.caption %}<caption>{{ t.caption }}</caption>{% endif %}
<thead><tr>{% for h in t.headers %}<th>{{ h }}</th>{% endfor %}</tr></thead>
<tbody>{% for row in t.rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table></div>{% endmacro %}<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>
body { font: 15px/1.5 system-ui, -apple-system, Segoe UI, Roboto, sans-serif; color: #1d1d1f;
       max-width: 1100px; margin: 2em auto; padding: 0 1.2em; }
h1 { font-size: 1.6em; margin-bottom: .2em; } h2 { margin-top: 1.8em; border-bottom: 1px solid #ddd; }
.lead { color: #444; font-size: 1.05em; } .meta { color: #777; font-size: .85em; }
.table-wrap { max-width: 100%; overflow-x: auto; }
table { border-collapse: collapse; margin: .8em 0 1.2em; font-size: .9em; max-width: 100%; }
th, td { border: 1px solid #d5d5d5; padding: .3em .6em; text-align: left; vertical-align: top;
         overflow-wrap: break-word; }
.answer { background: #fff8e1; border: 2px solid #f0b400; border-radius: 6px; padding: .6em 1em;
          margin: 1em 0 1.4em; }
.answer .finding { font-size: 1.12em; margin: .2em 0 .4em; }
.answer table { margin: .4em 0 .2em; background: #fff; }
pre.command { white-space: pre-wrap; overflow-wrap: anywhere; background: #f4f4f4; padding: .5em .7em;
              border-radius: 4px; font-size: .88em; }
th { background: #f3f3f5; } tr:nth-child(even) td { background: #fafafa; }
caption { caption-side: bottom; color: #666; font-size: .85em; padding-top: .3em; text-align: left; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: .88em; }
code { background: #f4f4f4; padding: 0 .25em; border-radius: 3px; overflow-wrap: anywhere; }
</style></head><body>
<h1>{{ title }}</h1>
{% if answer %}<div class="answer" id="answer">
<p class="finding"><b>Answer:</b> {{ answer.finding | safe }}</p>
{% if answer.table %}{{ table(answer.table) }}{% endif %}</div>
{% endif %}<p class="lead">{{ lead }}</p>
<p class="meta">mesalab {{ version }}{% if meta %} &middot; {{ meta }}{% endif %}</p>
{% for s in sections %}
<section><h2>{{ s.heading }}</h2>
{% for p in s.paragraphs %}<p>{{ p | safe }}</p>
{% endfor %}
{% for t in s.tables %}{{ table(t) }}
{% endfor %}
{% for c in s.commands %}<pre class="command">{{ c }}</pre>
{% endfor %}
{% for f in s.figures %}<figure><img src="{{ f.data_uri }}" alt="{{ f.caption }}">
<figcaption>{{ f.caption }}</figcaption></figure>
{% endfor %}
</section>
{% endfor %}
</body></html>
"""
)


def render_report(
    title: str, lead: str, sections: list[Section], meta: str = "", answer: Answer | None = None
) -> str:
    """The report as one HTML string. Paragraphs may hold inline HTML (escape user text with `esc`)."""
    return _TEMPLATE.render(
        title=title, lead=lead, sections=sections, meta=meta, version=__version__, answer=answer
    )


def interval(rate: float, low: float, high: float) -> str:
    """`62% [48%, 75%]`: a rate with its interval."""
    return f"{rate:.0%} [{low:.0%}, {high:.0%}]"


def verdict_evidence(verdict: dict[str, Any], success: dict[str, Any] | None) -> str:
    """What backs a verdict: its confidence where the verdict carries one, else the success interval."""
    confidence = verdict.get("confidence")
    if isinstance(confidence, int | float):
        return f"confidence {confidence:.0%}"
    if isinstance(confidence, dict) and {"low", "high"} <= set(confidence):
        value = confidence.get("value", confidence.get("rate"))
        head = f"{value:.0%} " if isinstance(value, int | float) else ""
        return f"confidence {head}[{confidence['low']:.0%}, {confidence['high']:.0%}]"
    if success and {"rate", "low", "high"} <= set(success):
        return "success " + interval(success["rate"], success["low"], success["high"])
    return ""


def esc(text: Any) -> str:
    """Escape text for use inside a paragraph."""
    return html.escape(str(text))


def reproduce_section(command: str, config_hash: str) -> Section:
    """The closing section: the one shell line that runs this config again."""
    return Section(
        "Reproduce",
        [f"This command runs this config again (config hash {esc(config_hash)}); config.json holds it."],
        commands=[command],
    )
