"""Files others can read (issue #14): atomic writes with the user's umask, `schema_version`
on every results record, and models whose safetensors metadata repeats their config."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import safetensors
import safetensors.torch
import torch

from mesalab.errors import MesalabError
from mesalab.models.io import load_model, save_model
from mesalab.models.lsa import LinearSelfAttention, LSAConfig
from mesalab.store import SCHEMA_VERSION, check_schema, read_json, write_json_atomic, write_text_atomic


@pytest.fixture
def umask() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_writes_follow_the_umask(mask: int, mode: int, tmp_path: Path, umask) -> None:
    os.umask(mask)
    path = tmp_path / "report.html"
    write_text_atomic(path, "<p>hi</p>")
    write_text_atomic(path, "<p>again</p>")  # replacing a file keeps the rule
    assert path.stat().st_mode & 0o777 == mode
    assert path.read_text() == "<p>again</p>"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"], "no temporary file is left behind"


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    write_json_atomic(path, {"a": 1})
    with pytest.raises(TypeError, match="cannot write object as JSON"):
        write_json_atomic(path, {"a": object()})
    assert read_json(path)["a"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_models_are_written_with_the_umask(tmp_path: Path, umask) -> None:
    cfg = LSAConfig(token_dim=3)
    weights = save_model(LinearSelfAttention(cfg), tmp_path / "m", "lsa", cfg)
    assert weights.stat().st_mode & 0o777 == 0o644
    assert weights.with_suffix(".json").stat().st_mode & 0o777 == 0o644


# ---- schema_version ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["results.json", "sweep.json", "audit.json"])
def test_results_records_carry_the_schema_version_first(name: str, tmp_path: Path) -> None:
    write_json_atomic(tmp_path / name, {"score": 1.5, "nested": {"k": [1, 2]}})
    text = (tmp_path / name).read_text()
    assert list(json.loads(text)) == ["schema_version", "score", "nested"]
    expected = {"schema_version": SCHEMA_VERSION, "score": 1.5, "nested": {"k": [1, 2]}}
    assert read_json(tmp_path / name) == expected


def test_other_json_files_are_left_as_written(tmp_path: Path) -> None:
    write_json_atomic(tmp_path / "trial.json", {"status": "running"})
    write_json_atomic(tmp_path / "results.json", [1, 2])  # not a record: nothing to stamp
    assert read_json(tmp_path / "trial.json") == {"status": "running"}
    assert read_json(tmp_path / "results.json") == [1, 2]


def test_files_without_a_schema_version_read_as_version_one(tmp_path: Path) -> None:
    (tmp_path / "results.json").write_text('{"score": 2}')
    assert read_json(tmp_path / "results.json") == {"score": 2}
    assert check_schema({"score": 2}, "x") == 1


@pytest.mark.parametrize(
    ("version", "message"),
    [
        (SCHEMA_VERSION + 1, f"schema_version {SCHEMA_VERSION + 1} is newer than this mesalab"),
        ("2", "schema_version '2' is not a positive integer"),
        (0, "schema_version 0 is not a positive integer"),
    ],
)
def test_a_newer_or_bad_schema_version_is_a_one_line_error(version, message: str, tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"schema_version": version, "score": 2}))
    with pytest.raises(MesalabError) as info:
        read_json(path)
    assert message in str(info.value) and str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_the_sweep_index_refuses_a_newer_results_file(tmp_path: Path) -> None:
    from mesalab.sweep.index import _read

    (tmp_path / "results.json").write_text(json.dumps({"schema_version": SCHEMA_VERSION + 1}))
    with pytest.raises(MesalabError, match="upgrade mesalab"):
        _read(tmp_path / "results.json")


# ---- model metadata -----------------------------------------------------------------------------


def _lsa() -> tuple[LinearSelfAttention, LSAConfig]:
    cfg = LSAConfig(token_dim=4, n_layers=2, init_seed=3)
    return LinearSelfAttention(cfg), cfg


def _metadata(weights: Path) -> dict[str, str]:
    with safetensors.safe_open(str(weights), framework="pt") as handle:
        return dict(handle.metadata() or {})


def _resave(weights: Path, metadata: dict[str, str]) -> None:
    tensors = safetensors.torch.load_file(str(weights))
    safetensors.torch.save_file(tensors, str(weights), metadata=metadata)


def test_saving_one_model_twice_gives_identical_bytes(tmp_path: Path) -> None:
    model, cfg = _lsa()
    # safetensors orders its metadata by a hash map seeded afresh for each save: four saves
    # all in one order by chance would happen once in 216
    files = [save_model(model, tmp_path / f"m{i}", "lsa", cfg).read_bytes() for i in range(4)]
    assert all(data == files[0] for data in files)
    size = int.from_bytes(files[0][:8], "little")
    header = json.loads(files[0][8 : 8 + size])
    assert list(header) == ["__metadata__", *sorted(model.state_dict())]
    assert list(header["__metadata__"]) == ["config", "format", "kind"]
    inner = _metadata(tmp_path / "m0.safetensors")
    assert inner["config"] == json.dumps(cfg.to_dict(), sort_keys=True, separators=(",", ":"))
    assert json.loads(inner["config"]) == json.loads((tmp_path / "m0.json").read_text())["config"]
    loaded, _ = load_model(tmp_path / "m0")
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, loaded.state_dict()[name]), name


def test_weights_whose_config_disagrees_with_the_json_are_refused(tmp_path: Path) -> None:
    model, cfg = _lsa()
    weights = save_model(model, tmp_path / "m", "lsa", cfg)
    inner = _metadata(weights)
    _resave(weights, {**inner, "config": json.dumps({**json.loads(inner["config"]), "init_seed": 9})})
    with pytest.raises(MesalabError) as info:
        load_model(weights)
    assert "its config differs from m.json in init_seed" in str(info.value)
    assert "\n" not in str(info.value)
    _resave(weights, {**inner, "kind": "actor-critic"})
    with pytest.raises(MesalabError, match=r"holds kind actor-critic but m\.json says lsa"):
        load_model(weights)


def test_models_saved_before_the_metadata_held_the_config_still_load(tmp_path: Path) -> None:
    model, cfg = _lsa()
    weights = save_model(model, tmp_path / "m", "lsa", cfg)
    _resave(weights, {"format": "mesalab-model/1", "kind": "lsa"})  # what earlier versions wrote
    loaded, meta = load_model(weights)
    assert meta["kind"] == "lsa" and loaded.cfg == cfg
