"""The layering of mesalab, pinned (issue #10): which part may import which, and no circles.

Every module of the package is parsed with `ast` (nothing is imported), and each import is
an edge from the importing module to the module it names: `import a.b` and `from a.b
import x` to `a.b`; `from a import b` to `a` (its `__init__`, whose names it reads) and, when
`a.b` is a module, to `a.b` too; relative imports resolved. Imports inside
functions and under `if TYPE_CHECKING:` count like the rest: a lazy or typing-only import
is still a dependency, and is how an import that runs back up usually hides. For the
layer rules a string constant that names a mesalab module (`"mesalab.experiments.x"`, as
passed to `importlib.import_module`) is an import too.

The rules are data, `FORBIDDEN`: (importing part, imported part, why). A part is a
subpackage (`envs`, `detect`, ...) or a top-level module (`config`, `seeding`, ...). Only
`experiments` and `cli` may import everything; nothing but them (and `__main__`, the
entry point) imports `experiments` or `cli`.

Circles are strongly connected components of the module import graph. Here
function-local and `TYPE_CHECKING` imports count as well: a circle that is broken only by
moving one import into a function or under `TYPE_CHECKING` still means two rooms that each
need the other (today's sweep runner and index were such a pair), which is what a newcomer
trips over. Import-by-string edges do not count for circles: a registry that loads the
modules that fill it by name (`importlib.import_module`) is the registry pattern, not a circle.
A submodule's implicit import of its parent package's `__init__` is not an edge either
(that is how every package with re-exports works); `from mesalab.detect import x` is, so a
diagnostic that imports `from mesalab.detect import gridworld` while `detect/__init__`
imports that diagnostic is a circle (import `mesalab.detect.gridworld` itself instead).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

import mesalab

PACKAGE_DIR = Path(mesalab.__file__).parent
CORE = ("config", "registry", "seeding", "hooks", "errors", "limits", "runtime", "store")
"""The core: imports nothing above it."""
TOP = ("experiments", "cli")
"""The only parts that may import everything."""


def _above_core(part: str) -> bool:
    return part not in CORE and part != "mesalab"


FORBIDDEN: tuple[tuple[str, str, str], ...] = (
    *((low, high, "shift, detect and audit judge a model; they never train one or run a flagship")
      for low in ("shift", "detect", "audit") for high in ("train", "experiments")),
    ("detect", "zoo", "detect reaches a model through its hook names and call signature only"),
    ("envs", "models", "a world knows no model"),
    ("envs", "train", "core < envs < models < train"),
    ("models", "train", "core < envs < models < train"),
    ("sweep", "experiments", "sweep knows trials by registry; experiments register them"),
    ("sweep", "train", "sweep knows trials by registry; experiments register them"),
)  # fmt: skip
"""(importing part, imported part, why) pairs that must not occur. Two further rules are
computed: the core imports nothing above it (`_core_rule`), and only `experiments` and `cli`
(and `__main__`) import `experiments` or `cli` (`_top_rule`)."""


@dataclass(frozen=True)
class Edge:
    """One import: `source` module imports `target` module at `file:line`."""

    source: str
    target: str
    file: str
    line: int
    by_string: bool = False

    def where(self) -> str:
        return f"{self.file}:{self.line}"


# ---- the import graph -----------------------------------------------------------------------


def module_files(root: Path = PACKAGE_DIR) -> dict[str, Path]:
    """Every module of the package by dotted name (`mesalab.envs.gridworld.world`)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


_MODULE_NAME = re.compile(r"^mesalab(\.[A-Za-z_]\w*)*$")


def imports_of(name: str, source: str, file: str, modules: set[str], is_package: bool) -> list[Edge]:
    """The mesalab modules `source` (module `name`) imports, each with its line."""
    edges = []
    package = name if is_package else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                edges.append(Edge(name, alias.name, file, node.lineno))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            edges.append(Edge(name, base, file, node.lineno))
            for alias in node.names:
                if f"{base}.{alias.name}" in modules:
                    edges.append(Edge(name, f"{base}.{alias.name}", file, node.lineno))
        elif (
            isinstance(node, ast.Constant) and isinstance(node.value, str) and _MODULE_NAME.match(node.value)
        ):
            target = node.value
            while target and target not in modules:  # "mesalab.x.y" naming a function of mesalab.x
                target = target.rpartition(".")[0]
            if target and target != "mesalab":
                edges.append(Edge(name, target, file, node.lineno, by_string=True))
    inside = [e for e in edges if e.target != name and (e.target + ".").startswith("mesalab.")]
    return list(dict.fromkeys(inside))  # one edge per (target, line)


def import_graph(root: Path = PACKAGE_DIR) -> list[Edge]:
    """Every import edge between the package's modules."""
    files = module_files(root)
    edges = []
    for name, path in files.items():
        text = path.read_text(encoding="utf-8")
        rel = str(path.relative_to(root.parent.parent))
        edges += imports_of(name, text, rel, set(files), path.name == "__init__.py")
    return edges


# ---- the rules ------------------------------------------------------------------------------


def part_of(module: str) -> str:
    """`mesalab.envs.gridworld.world` -> `envs`; `mesalab.config` -> `config`; `mesalab` -> `mesalab`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "mesalab"


def _core_rule(low: str, high: str) -> str | None:
    if low in CORE and _above_core(high):
        return f"the core ({', '.join(CORE)}) imports nothing above it"
    return None


def _top_rule(low: str, high: str) -> str | None:
    if high in TOP and low not in (*TOP, "__main__") and low != high:
        return "only experiments and cli may import experiments or cli"
    return None


def layer_violations(edges: list[Edge], forbidden=FORBIDDEN) -> list[str]:
    """One message per import that breaks a rule, naming file, line, the import and why."""
    table = {(low, high): why for low, high, why in forbidden}
    out = []
    for e in edges:
        low, high = part_of(e.source), part_of(e.target)
        if low == high:
            continue
        why = table.get((low, high)) or _core_rule(low, high) or _top_rule(low, high)
        if why:
            how = "names by string" if e.by_string else "imports"
            out.append(f"{e.where()}: {e.source} {how} {e.target} ({low} -> {high}: {why})")
    return sorted(set(out))


def circles(edges: list[Edge]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    graph: dict[str, set[str]] = {}
    for e in edges:
        if not e.by_string:
            graph.setdefault(e.source, set()).add(e.target)
            graph.setdefault(e.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def circle_messages(edges: list[Edge]) -> list[str]:
    """Each circle with the imports that close it, file and line."""
    out = []
    for component in circles(edges):
        members = set(component)
        inside = [e for e in edges if not e.by_string and e.source in members and e.target in members]
        lines = "; ".join(sorted({f"{e.where()} {e.source} -> {e.target}" for e in inside}))
        out.append(f"circle {' <-> '.join(component)}: {lines}")
    return out


# ---- the package as it is -------------------------------------------------------------------


def test_no_part_imports_a_part_it_must_not() -> None:
    found = layer_violations(import_graph())
    assert not found, f"{len(found)} imports break the layering:\n" + "\n".join(found)


def test_no_modules_import_each_other_in_a_circle() -> None:
    found = circle_messages(import_graph())
    assert not found, f"{len(found)} import circles:\n" + "\n".join(found)


def test_the_graph_sees_the_whole_package() -> None:
    files = module_files()
    edges = import_graph()
    assert "mesalab.envs.gridworld" in files and "mesalab.config" in files
    assert any(e.source == "mesalab.train.ppo" and e.target == "mesalab.config" for e in edges)


# ---- the checker on synthetic graphs: each rule, shown failing --------------------------------


def _edge(source: str, target: str, by_string: bool = False) -> Edge:
    return Edge(f"mesalab.{source}", f"mesalab.{target}", f"{source}.py", 7, by_string)


RULE_CASES = [
    *[(f"{low}.m", f"{high}.x") for low, high, _ in FORBIDDEN],
    *[(core, f"{high}.x") for core in CORE for high in ("envs", "models", "train", "detect", "sweep", "zoo")],
    ("store.runs", "shift.verdict"),
    ("zoo.known", "experiments.red_door"),
    ("models.io", "cli.app"),
    ("sweep.run", "cli"),
]
"""One edge per rule (and per core module): each must be flagged."""


@pytest.mark.parametrize(("source", "target"), RULE_CASES)
def test_each_rule_flags_its_edge(source: str, target: str) -> None:
    found = layer_violations([_edge(source, target)])
    assert len(found) == 1, found
    assert found[0].startswith(f"{source}.py:7: mesalab.{source} imports mesalab.{target} ("), found


def test_a_sweep_string_naming_experiments_or_train_is_flagged() -> None:
    for target in ("experiments.red_door", "train.ppo"):
        found = layer_violations([_edge("sweep.experiment", target, by_string=True)])
        assert len(found) == 1 and "names by string" in found[0], found
    source = 'import importlib\nMODS = ("mesalab.experiments.red_door", "mesalab.sweep.x")\n'
    modules = {"mesalab.experiments.red_door", "mesalab.sweep.x", "mesalab.sweep.experiment"}
    edges = imports_of("mesalab.sweep.experiment", source, "sweep/experiment.py", modules, False)
    assert [(e.target, e.line, e.by_string) for e in edges] == [
        ("mesalab.experiments.red_door", 2, True),
        ("mesalab.sweep.x", 2, True),
    ]
    assert len(layer_violations(edges)) == 1


def test_allowed_imports_are_not_flagged() -> None:
    allowed = [
        _edge("experiments.red_door", "train.ppo"),
        _edge("cli.app", "experiments.red_door"),
        _edge("__main__", "cli"),
        _edge("train.ppo", "envs.gridworld.world"),
        _edge("store.runs", "config"),
        _edge("store.runs", "errors"),
        Edge("mesalab.store.runs", "mesalab", "store/runs.py", 3),
        _edge("detect.subject", "hooks"),
        _edge("sweep.run", "sweep.records"),
    ]
    assert layer_violations(allowed) == []


def test_imports_inside_functions_and_relative_imports_are_seen() -> None:
    source = (
        "from __future__ import annotations\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from mesalab.zoo.trained import TokenModel\n"
        "def f():\n"
        "    from ..train import ppo\n"
        "    import mesalab.experiments.red_door\n"
        "    from . import evidence\n"
    )
    modules = {"mesalab.zoo.trained", "mesalab.train", "mesalab.train.ppo", "mesalab.detect.evidence"}
    modules |= {"mesalab.experiments.red_door", "mesalab.detect.subject"}
    edges = imports_of("mesalab.detect.subject", source, "detect/subject.py", modules, False)
    assert [(e.target, e.line) for e in edges] == [
        ("mesalab.zoo.trained", 4),
        ("mesalab.train", 6),
        ("mesalab.train.ppo", 6),
        ("mesalab.experiments.red_door", 7),
        ("mesalab.detect", 8),
        ("mesalab.detect.evidence", 8),
    ]
    found = layer_violations(edges)
    assert [m.split(": ", 1)[0] for m in found] == [
        "detect/subject.py:4",
        "detect/subject.py:6",
        "detect/subject.py:6",
        "detect/subject.py:7",
    ]  # zoo, train (the package and its module), experiments


def test_a_circle_is_flagged_with_its_lines() -> None:
    edges = [
        _edge("sweep.run", "sweep.index"),
        _edge("sweep.index", "sweep.run"),
        _edge("sweep.run", "config"),
    ]
    (message,) = circle_messages(edges)
    assert "mesalab.sweep.index <-> mesalab.sweep.run" in message
    assert "sweep.index.py:7 mesalab.sweep.index -> mesalab.sweep.run" in message
    three = [_edge("a", "b"), _edge("b", "c"), _edge("c", "a"), _edge("c", "d")]
    assert circles(three) == [["mesalab.a", "mesalab.b", "mesalab.c"]]
    source = "from mesalab.detect import gridworld as gw\n"
    modules = {"mesalab.detect", "mesalab.detect.gridworld", "mesalab.detect.retargeting"}
    child = imports_of("mesalab.detect.retargeting", source, "detect/retargeting.py", modules, False)
    package = [*child, _edge("detect", "detect.retargeting")]  # __init__ imports the diagnostic
    assert circles(package) == [["mesalab.detect", "mesalab.detect.retargeting"]]
    assert circles([*child, _edge("detect", "detect.gridworld")]) == []


def test_no_circle_where_imports_run_one_way() -> None:
    assert circles([_edge("a", "b"), _edge("b", "c"), _edge("a", "c")]) == []
    assert circles([_edge("a", "b", by_string=True), _edge("b", "a")]) == []  # a registry loading by name
