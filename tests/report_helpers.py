"""Checks every report passes: the answer box on top, no printed dicts or backticks, no sideways scroll.

`assert_readable_report(html)` reads the HTML text; `scroll_width(path)` opens the page in
headless Chromium at 800 px and returns the document's width (tests skip without Chromium).
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

DICT_DUMPS = ("{'", "{&#39;", '{"', "{&#34;", "{&quot;")
"""How a printed Python dict (or JSON object) shows in a page, raw or escaped."""
VIEWPORT = 800
"""Window width in pixels at which no report may scroll sideways."""
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    f"--window-size={VIEWPORT},1200",
)  # fmt: skip


def assert_readable_report(html: str) -> None:
    """The answer box comes before the first section; no dict dumps, no literal backticks."""
    assert '<div class="answer" id="answer">' in html
    assert html.index('class="answer"') < html.find("<section>") or "<section>" not in html
    finding = re.search(r'<p class="finding"><b>Answer:</b> (.+?)</p>', html, re.DOTALL)
    assert finding and len(finding.group(1).strip()) > 20, "the answer box has no finding"
    for dump in DICT_DUMPS:
        assert dump not in html, f"a printed dict ({dump}) in the report"
    assert "`" not in html, "a literal backtick in the report"


def reproduce_line(html: str) -> list[str]:
    """The report's Reproduce command as argv (after `mesalab`)."""
    match = re.search(r'<h2>Reproduce</h2>.*?<pre class="command">(.+?)</pre>', html, re.DOTALL)
    assert match, "no Reproduce command in the report"
    argv = shlex.split(match.group(1).replace("&#39;", "'").replace("&#34;", '"').replace("&amp;", "&"))
    assert argv[0] == "mesalab"
    return argv[1:]


def assert_reproduces(html: str, flagship: str, sets: list[str]) -> None:
    """The Reproduce line makes the config that `--quick` and `sets` made (the same hash)."""
    from mesalab.cli.settings import flagship_config

    argv = reproduce_line(html)
    assert argv[:2] == ["run", flagship], argv
    assert all(a in ("--quick", "--set") or argv[i - 1] == "--set" for i, a in enumerate(argv[2:], 2)), argv
    again = flagship_config(
        flagship, "--quick" in argv, [argv[i + 1] for i, a in enumerate(argv) if a == "--set"]
    )
    assert again.stable_hash() == flagship_config(flagship, True, sets).stable_hash()


def chromium() -> str:
    """The Chromium binary, or skip the test (install: apt-get install chromium)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("Chromium is not installed")
    return found


PROBE = (
    "<script>document.body.setAttribute('data-scroll-width', "
    "String(document.documentElement.scrollWidth));</script></body>"
)
"""Added to a copy of the page only (reports carry no script): writes the page's width into the DOM."""


def scroll_width(page: Path, tmp: Path) -> int:
    """The page's `scrollWidth` in headless Chromium at `VIEWPORT` px (> VIEWPORT: it scrolls sideways)."""
    binary = chromium()
    probe = tmp / f"probe-{page.stem}.html"
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE), encoding="utf-8")
    with tempfile.TemporaryDirectory(dir=tmp) as profile:
        dom = subprocess.run(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", probe.as_uri()],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    match = re.search(r'data-scroll-width="(\d+)"', dom.stdout)
    assert match, dom.stderr[-2000:]
    return int(match.group(1))


def screenshot(page: Path, png: Path) -> Path:
    """A PNG of the page as a reader sees it at `VIEWPORT` px."""
    binary = chromium()
    with tempfile.TemporaryDirectory(dir=png.parent) as profile:
        subprocess.run(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={png}", page.as_uri()],
            capture_output=True, timeout=120, check=True,
        )  # fmt: skip
    return png
