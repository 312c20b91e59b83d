"""Nothing a user types crashes mesalab, hangs it or writes anything: a table of bad inputs.

Every command and subcommand (walked from the app itself, so a new one is covered) gets
the bad values of each of its numeric options (text, 1e12, nan, inf, -1, 0 where a count
is meant, 2**64), an unknown option, and for `mesalab run` every config field of every
flagship at an absurd value (a new field is covered too). Hand-written rows add unknown
and hostile names, malformed and hostile model files and sidecars, folders where files
belong, and resource bombs. Each row must end with exit code 2, exactly one stderr line
starting `error:`, no traceback, and the folder's listing unchanged. Most rows run in this
process; the crash, hang and memory rows run as subprocesses with a timeout.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import safetensors.torch
import torch
from tests.cli_helpers import ENV

from mesalab.cli import main
from mesalab.cli.app import OPTION_MINIMUMS, app
from mesalab.cli.settings import FLAGSHIPS
from mesalab.models.policy import PolicyConfig
from mesalab.overrides import config_fields

# ---- the table -----------------------------------------------------------------------------------


def _commands() -> Iterator[tuple[list[str], Any]]:
    """`(path, click command)` of every leaf command, e.g. (["run", "red-door"], cmd)."""
    import typer

    def walk(command: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
        subs = getattr(command, "commands", None)
        if subs:
            for name, sub in subs.items():
                yield from walk(sub, [*path, name])
        else:
            yield path, command

    yield from walk(typer.main.get_command(app), [])


ARGUMENT_STANDINS = {"model": "m.safetensors", "experiment": "tiny", "name": "red-door/train", "run": "r"}
"""A value for each required argument, so that the row's bad option is what fails first."""


def _required(command: Any) -> list[str]:
    out = []
    for param in command.params:
        if param.param_type_name == "argument" and param.required:
            out.append(ARGUMENT_STANDINS.get(param.name, "red-door/deploy"))
    return out


def _option_rows() -> list[list[str]]:
    """Bad values of every numeric option of every command, and one unknown option each."""
    rows = []
    for path, command in _commands():
        base = [*path, *_required(command)]
        rows.append([*base, "--no-such-option"])
        declared = inspect.signature(command.callback).parameters
        for param in command.params:
            if param.param_type_name != "option" or param.is_flag:
                continue
            annotation = str(declared[param.name].annotation)
            kind = (
                "integer"
                if annotation.startswith("int")
                else "float"
                if annotation.startswith("float")
                else ""
            )
            if not kind:
                continue
            flag = next(o for o in param.opts if o.startswith("--"))
            bad = ["abc", "nan", "inf", "1e400"] if kind == "float" else ["abc", "1e12", "nan", "inf", "1.5"]
            bad += ["-1", str(2**64)]
            if OPTION_MINIMUMS.get(param.name) == 1:
                bad.append("0")
            rows += [[*base, flag, value] for value in bad]
    return rows


def _field_rows() -> list[list[str]]:
    """Every config field of every flagship, and of a world spec, at an absurd value."""
    from mesalab.envs.gridworld import get_distribution

    targets = [(["run", name], configs().default) for name, configs in FLAGSHIPS.items()]
    targets.append((["worlds", "show", "red-door/train"], get_distribution("red-door/train")))
    rows = []
    for path, cfg in targets:
        for f in config_fields(cfg):
            leaf = f.path.rsplit(".", 1)[-1]
            if f.type in ("int", "int | None"):
                value = str(2**64) if leaf.endswith("seed") else str(10**12)
                rows.append([*path, "--set", f"{f.path}={value}"])
            elif f.type in ("float", "float | None"):
                rows += [[*path, "--set", f"{f.path}={v}"] for v in ("NaN", "Infinity", "1e400")]
        rows.append([*path, "--set", "no_such_field=1"])
        rows.append([*path, "--set", "missing-equals"])
    return rows


HOSTILE = ["../../etc/passwd", "<script>alert(1)</script>", "a\x00b", "$(rm -rf ~)", "x" * 5000, "", "nan"]
"""Names that must come back as one line naming them, never as a path walked or markup run."""


def _hand_rows() -> list[list[str]]:
    rows = [
        ["no-such-command"],
        ["run", "no-such-experiment"],
        ["worlds", "no-such-subcommand"],
        ["audit"],  # a missing argument
        ["show"],
        ["worlds", "diff", "red-door/train"],
        ["run", "red-door", "--device", "tpu"],
        ["run", "icl-gd", "--device", "bogus"],
        ["run", "oversight", "--device", "cuda:99"],
        ["run", "think-longer", "--device", ""],
        ["run", "red-door", "--resume", "no-such-run"],
        ["run", "red-door", "--out", "a-file"],
        ["run", "icl-gd", "--out", "a-file/below"],
        ["run", "icl-gd", "--steps", "0"],
        ["run", "icl-gd", "--set", "task.x_scale=1e12"],
        ["run", "icl-gd", "--set", "task.w_scale=1e12"],
        ["run", "icl-gd", "--set", "task.noise=1e12"],
        ["run", "icl-gd", "--set", "task.x_scale=inf"],
        ["run", "red-door", "--arch", "transformer"],
        ["worlds", "show", "red-door/train", "--png", "a-folder"],
        ["worlds", "show", "red-door/train", "--obs", "x-ray"],
        ["worlds", "show", "red-door/train", "--set", "size=100001"],
        ["worlds", "show", "red-door/train", "--set", "size=255"],  # its layout bank: 9 GB
        ["worlds", "show", "red-door/train", "--set", "max_objects=1000000000"],
        ["worlds", "show", "red-door/train", "--set", "exit_colours=ultraviolet"],
        ["break", "scripted:red", "--sizes", "9,,11"],
        ["break", "scripted:red", "--sizes", "1001"],
        ["break", "scripted:red", "--sizes", "nine"],
        ["break", "scripted:red", "--max-objects", "1000000000"],
        ["break", "scripted:red", "--method", "bogus"],
        ["break", "scripted:no-such-objective"],
        ["sweep", "tiny", "--axis", "x=nan"],
        ["sweep", "tiny", "--axis", "x=inf"],
        ["sweep", "tiny", "--axis", "x=1e400"],
        ["sweep", "tiny", "--axis", "x=0,1", "--axis", "x=2"],
        ["sweep", "tiny", "--axis", "no_such_field=1"],
        ["sweep", "tiny", "--axis", "missing-equals"],
        ["sweep", "tiny", "--seeds", "1000000000"],
        [
            "sweep",
            "tiny",
            "--axis",
            "x=" + ",".join(map(str, range(10_000))),
            "--axis",
            "sleep_s=" + ",".join(f"0.{i:05d}" for i in range(10_000)),
        ],
        ["sweep", "tiny", "--threads", "0"],
        ["tune", "tiny", "--set", "x=nan"],
        ["tune", "tiny", "--threads", "0"],
        ["tune", "tiny", "--trials", "0"],
        ["tune", "no-such-experiment"],
        ["sweep", "no-such-experiment"],
        ["runs", "--root", "/nonexistent"],
        ["runs", "--root", "a-file"],
        ["runs", "--sweep", "no-such-sweep"],
        ["runs", "--where", "missing-equals"],
        ["runs", "--export", "a-folder"],
        ["show", "no-such-run"],
        ["zoo", "--trained", "/nonexistent"],
        ["zoo", "--threads", "100000"],
        ["run", "emergence-red-door", "--workers", "0"],
        ["run", "emergence-icl", "--threads-per-trial", "0"],
    ]
    for name in HOSTILE:
        rows += [
            ["run", name],
            ["worlds", "show", name],
            ["worlds", "diff", name, "red-door/train"],
            ["assess", "model", "--world", name],
            ["audit", name],
            ["show", name],
            ["sweep", name],
            ["run", "red-door", "--set", f"{name}=1"],
            ["run", "red-door", "--arch", name],
        ]
    for model in MODEL_FILES:
        rows += [["audit", model], ["assess", model], ["break", model]]
    return rows


MODEL_FILES = [
    "empty.safetensors",  # both files empty
    "garbage.safetensors",  # random bytes
    "pickle.safetensors",  # a torch.save pickle under the safetensors name
    "f64.safetensors",  # float64 weights beside a float32 config
    "i64.safetensors",  # int64 weights
    "missing-field.safetensors",  # the sidecar leaves out config.size
    "huge.safetensors",  # a sidecar whose config is 720 GB of weights
    "too-wide.safetensors",  # hidden beyond the field's bound
    "dir-sidecar.safetensors",  # the sidecar is a folder
    "dir-model.safetensors",  # the weights are a folder
    "no-sidecar.safetensors",
    "unknown-kind.safetensors",
    "hostile-kind.safetensors",
    "config-list.safetensors",
    "deep.safetensors",  # a sidecar nested 100000 deep
    "renamed.safetensors",  # a tensor under another name
    "reshaped.safetensors",  # a tensor of another shape
    "",  # the empty path
    ".",
    "a-folder",
    "no-such-model.safetensors",
]
"""Malformed and hostile saved models, made by `_make_files`."""


def _make_files(root: Path) -> None:
    from mesalab.models.io import _register_builtin_kinds, save_model
    from mesalab.models.kinds import MODEL_KINDS

    _register_builtin_kinds()
    (root / "a-file").write_text("x")
    (root / "a-folder").mkdir()
    (root / "empty.safetensors").write_bytes(b"")
    (root / "empty.json").write_text("")
    (root / "garbage.safetensors").write_bytes(os.urandom(256))
    cfg = PolicyConfig(arch="mlp", hidden=8, layers=1)
    _, build = MODEL_KINDS.get("actor-critic")
    good = build(cfg)
    save_model(good, root / "good", "actor-critic", cfg)
    meta = json.loads((root / "good.json").read_text())
    tensors = safetensors.torch.load_file(str(root / "good.safetensors"))

    def pair(name: str, weights: dict[str, torch.Tensor] | bytes, sidecar: Any) -> None:
        path = root / f"{name}.safetensors"
        if isinstance(weights, bytes):
            path.write_bytes(weights)
        else:
            safetensors.torch.save_file(weights, str(path))
        (root / f"{name}.json").write_text(sidecar if isinstance(sidecar, str) else json.dumps(sidecar))

    torch.save({"x": torch.zeros(1)}, root / "pickle.safetensors")
    (root / "pickle.json").write_text(json.dumps(meta))
    pair("f64", {k: v.double() for k, v in tensors.items()}, meta)
    pair("i64", {k: v.long() for k, v in tensors.items()}, meta)
    pair(
        "missing-field", tensors, {**meta, "config": {k: v for k, v in meta["config"].items() if k != "size"}}
    )
    pair("huge", tensors, {**meta, "config": {**meta["config"], "hidden": 60_000, "layers": 50}})
    pair("too-wide", tensors, {**meta, "config": {**meta["config"], "hidden": 200_000, "layers": 50}})
    pair("unknown-kind", tensors, {**meta, "kind": "no-such-kind"})
    pair("hostile-kind", tensors, {**meta, "kind": "__import__('os').system('touch pwned')"})
    pair("config-list", tensors, {**meta, "config": [1, 2]})
    pair("deep", tensors, "[" * 100_000 + "]" * 100_000)
    first = next(iter(tensors))
    pair("renamed", {("x" + k if k == first else k): v for k, v in tensors.items()}, meta)
    pair("reshaped", {k: (v.reshape(-1)[:1].clone() if k == first else v) for k, v in tensors.items()}, meta)
    (root / "dir-sidecar.safetensors").write_bytes((root / "good.safetensors").read_bytes())
    (root / "dir-sidecar.json").mkdir()
    (root / "dir-model.safetensors").mkdir()
    (root / "dir-model.json").write_text(json.dumps(meta))
    (root / "no-sidecar.safetensors").write_bytes((root / "good.safetensors").read_bytes())


IN_PROCESS = _option_rows() + _field_rows() + _hand_rows()

SUBPROCESS = [
    ["run", "red-door", "--threads", "100000"],
    ["worlds", "show", "red-door/train", "--batch", "1000000000"],
    ["assess", "good.safetensors", "--episodes", "1000000000"],
    ["break", "scripted:red", "--episodes", "1000000000"],
    ["worlds", "show", "red-door/train", "--set", "size=100001"],
    ["audit", "huge.safetensors"],
    ["sweep", "tiny", "--seeds", "1000000000"],
    ["run", "icl-gd", "--set", "task.x_scale=1e12", "--steps", "1"],
]
"""The rows that crashed, hung or ran out of memory before: each in its own process, timed out."""


# ---- the checks ----------------------------------------------------------------------------------


def _listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def _assert_refused(row: list[str], code: int, err: str, before: list[str], root: Path) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, (row, code, err[-2000:])
    assert len(lines) == 1 and lines[0].startswith("error: "), (row, err[-2000:])
    assert "Traceback" not in err, (row, err[-2000:])
    assert _listing(root) == before, (row, sorted(set(_listing(root)) ^ set(before)))


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz")
    _make_files(root)
    return root


def test_every_command_is_in_the_table() -> None:
    """The walk finds every leaf command `mesalab --help` lists, and each gets rows."""
    paths = {" ".join(path) for path, _ in _commands()}
    for expected in ["audit", "break", "runs", "show", "assess", "sweep", "tune", "zoo", "worlds show",
                     "worlds diff", "worlds list", "run red-door", "run icl-gd", "run oversight",
                     "run think-longer", "run emergence-red-door", "run emergence-icl"]:  # fmt: skip
        assert expected in paths
    covered = {
        " ".join(row[: len(p.split())])
        for row in IN_PROCESS
        for p in paths
        if row[: len(p.split())] == p.split()
    }
    assert covered == paths


def test_bad_inputs_in_process(
    files: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every row of the table: exit 2, one `error:` line, no traceback, nothing written."""
    monkeypatch.chdir(files)
    before = _listing(files)
    clean = []
    for row in IN_PROCESS:
        code = main(row)
        err = capsys.readouterr().err
        _assert_refused(row, code, err, before, files)
        clean.append(row)
    assert not (files / "pwned").exists()
    print(f"\nfuzz: {len(IN_PROCESS)} bad inputs tried in process, {len(clean)} clean", file=sys.__stderr__)


@pytest.mark.parametrize("row", SUBPROCESS, ids=lambda row: " ".join(row)[:60])
def test_bombs_in_a_subprocess(files: Path, row: list[str]) -> None:
    """The rows that once crashed or ran away: refused within seconds, in a process of their own."""
    before = _listing(files)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**ENV, "PYTHONPATH": src + os.pathsep + ENV.get("PYTHONPATH", "")}
    done = subprocess.run(
        [sys.executable, "-m", "mesalab", *row],
        capture_output=True,
        text=True,
        cwd=files,
        env=env,
        timeout=60,
    )
    _assert_refused(row, done.returncode, done.stderr, before, files)


def test_help_still_shows_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["worlds", "show", "--help"]) == 0
    assert "default" in capsys.readouterr().out
