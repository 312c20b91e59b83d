"""`--set FIELD=VALUE`: the parser, its errors, `--help` listing the fields, and that the
retired flags' `--set` equivalents give the configs (and hashes) the flags gave."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mesalab.cli import main
from mesalab.cli.settings import flagship_config
from mesalab.config import Config, check
from mesalab.errors import ConfigError
from mesalab.overrides import apply_sets, config_fields, parse_value, split_set


@dataclass(frozen=True)
class Inner(Config):
    steps: int = 10
    """Steps to take."""
    rate: float = 0.5
    """A probability."""

    def validate(self) -> None:
        check(self.steps >= 1, "steps", f"must be >= 1, got {self.steps}")
        check(0 <= self.rate <= 1, "rate", f"must be in [0, 1], got {self.rate}")


@dataclass(frozen=True)
class Outer(Config):
    name: str = "a"
    """A label, taken as text."""
    sizes: tuple[int | None, ...] = (1, 2)
    """Sizes; None is unbounded."""
    limit: int | None = None
    """An optional bound."""
    flag: bool = False
    """A switch."""
    inner: Inner = field(default_factory=Inner)
    """The nested part."""


# ---- the parser ---------------------------------------------------------------------------------


def test_nested_fields_are_dotted_paths() -> None:
    cfg = apply_sets(Outer(), ["inner.steps=7", "inner.rate=0.25"])
    assert cfg.inner == Inner(steps=7, rate=0.25) and cfg.name == "a"


def test_values_are_json_else_text() -> None:
    assert parse_value("5") == 5 and parse_value("0.5") == 0.5 and parse_value("true") is True
    assert parse_value("null") is None and parse_value("[1, 2]") == [1, 2]
    assert parse_value("pixels") == "pixels" and parse_value("") == ""
    assert parse_value("123", str) == "123"  # a str field takes the text as written
    cfg = apply_sets(Outer(), ["name=123", "flag=true", "limit=4"])
    assert (cfg.name, cfg.flag, cfg.limit) == ("123", True, 4)


def test_lists_as_json_or_comma_lists_and_null() -> None:
    assert apply_sets(Outer(), ["sizes=[3, null]"]).sizes == (3, None)
    assert apply_sets(Outer(), ["sizes=3,null,5"]).sizes == (3, None, 5)
    assert apply_sets(Outer(), ["sizes=9"]).sizes == (9,)
    assert apply_sets(Outer(limit=3), ["limit=null"]).limit is None


def test_later_set_wins_and_nothing_else_changes() -> None:
    cfg = apply_sets(Outer(), ["inner.steps=2", "inner.steps=3"])
    assert Outer().diff(cfg) == [("inner.steps", 10, 3)]


def test_unknown_field_names_the_nearest_or_lists_the_fields() -> None:
    with pytest.raises(ConfigError, match=r"inner\.step: not a field of inner; did you mean inner\.steps"):
        apply_sets(Outer(), ["inner.step=3"])
    with pytest.raises(ConfigError) as info:
        apply_sets(Outer(), ["zzz=1"])
    assert info.value.field == "zzz" and info.value.allowed == "name, sizes, limit, flag, inner.*"
    with pytest.raises(ConfigError, match=r"flag\.x: flag is a value, not a nested config"):
        apply_sets(Outer(), ["flag.x=1"])


def test_wrong_type_and_range_errors_name_the_full_field() -> None:
    with pytest.raises(ConfigError, match=r"^inner\.steps: input should be a valid integer.*'many'"):
        apply_sets(Outer(), ["inner.steps=many"])
    with pytest.raises(ConfigError, match=r"^inner\.rate: must be in \[0, 1\], got 2"):
        apply_sets(Outer(), ["inner.rate=2"])
    with pytest.raises(ConfigError, match=r"^limit: "):
        apply_sets(Outer(), ["limit=[1]"])


def test_malformed_set_is_refused() -> None:
    assert split_set("a.b=x=y") == ("a.b", "x=y")
    for bad in ("novalue", "=3"):
        with pytest.raises(ConfigError, match=r"^--set: expected FIELD=VALUE"):
            split_set(bad)


def test_config_fields_walk_nested_configs_with_docs() -> None:
    rows = {f.path: f for f in config_fields(Outer())}
    assert list(rows) == ["name", "sizes", "limit", "flag", "inner.steps", "inner.rate"]
    assert rows["inner.steps"].type == "int" and rows["inner.steps"].doc == "Steps to take."
    assert rows["sizes"].type == "tuple[int | None, ...]" and rows["sizes"].default == [1, 2]
    assert rows["limit"].type == "int | None"


# ---- the retired flags: the same config, so the same hash ------------------------------------------


def test_red_door_sets_equal_the_retired_flags() -> None:
    from mesalab.experiments.red_door import QUICK

    # before: --quick --seeds 1 --obs pixels --steps 4096 --episodes 20
    old = QUICK.replace(seeds=1, obs_mode="pixels", arch="planner", eval_episodes=20)
    old = old.replace(ppo=old.ppo.replace(total_steps=4096))
    sets = ["obs_mode=pixels", "ppo.total_steps=4096", "eval_episodes=20"]
    new = flagship_config("red-door", True, sets, {"seeds": 1, "arch": None})
    assert new == old and new.stable_hash() == old.stable_hash()


def test_icl_and_emergence_sets_equal_the_retired_flags() -> None:
    from mesalab.experiments import emergence_icl, emergence_red_door, icl_gd

    old_icl = icl_gd.IclGdConfig().replace(task=icl_gd.IclGdConfig().task.replace(dim=5, noise=0.1))
    new_icl = flagship_config("icl-gd", False, ["task.dim=5", "task.noise=0.1"])
    assert new_icl.stable_hash() == old_icl.stable_hash()

    q = emergence_red_door.QUICK  # before: --quick --fractions 0,1 --steps 4096 --episodes 10
    trial = q.trial.replace(ppo=q.trial.ppo.replace(total_steps=4096), eval_episodes=10)
    old_rd = q.replace(trial=trial, fractions=(0.0, 1.0))
    sets = ["fractions=0,1", "trial.ppo.total_steps=4096", "trial.eval_episodes=10"]
    assert flagship_config("emergence-red-door", True, sets).stable_hash() == old_rd.stable_hash()

    old_em = emergence_icl.QUICK.replace(pool_sizes=(1, None))  # before: --quick --pool-sizes 1,inf
    for spelled in ("pool_sizes=1,null", "pool_sizes=[1, null]"):
        assert flagship_config("emergence-icl", True, [spelled]).stable_hash() == old_em.stable_hash()


# ---- through the command line: one line, exit 2, nothing written; --help lists the fields ------------


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (
            ["run", "red-door", "--set", "ppo.total_step=5"],
            "ppo.total_step: not a field of ppo; did you mean",
        ),
        (
            ["run", "red-door", "--set", "eval_episodes=many"],
            "eval_episodes: input should be a valid integer",
        ),
        (["run", "icl-gd", "--set", "lsa1_steps=0"], "lsa1_steps: must be >= 1, got 0"),
        (["run", "emergence-icl", "--set", "trial.d_model=6"], "trial.d_model: must be a multiple of 4"),
        (
            ["run", "emergence-red-door", "--set", "trial.alt_fraction=2"],
            "trial.alt_fraction: must be a prob",
        ),
        (["sweep", "tiny", "--set", "zzz=1"], "zzz: not a field of TinyConfig (allowed: seed, x, noise"),
        (["sweep", "tiny", "--set", "noise=-1"], "noise: must be >= 0"),
        (["tune", "tiny", "--set", "x=abc"], "x: input should be a valid number"),
        (["worlds", "show", "red-door/train", "--set", "size=x"], "size: input should be a valid integer"),
    ],
)
def test_bad_set_is_one_line_exit_2_nothing_written(
    args: list[str], fragment: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    out = [] if args[0] == "worlds" else ["--out", str(tmp_path / "runs")]
    assert main([*args, *out]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], lines
    assert not any(tmp_path.iterdir())


def test_red_door_resume_refuses_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mesalab.experiments.red_door import RedDoorConfig
    from mesalab.store import create_run_dir

    folder = create_run_dir("red-door", RedDoorConfig(), tmp_path / "r", name="x")
    before = sorted(tmp_path.rglob("*"))
    args = ["run", "red-door", "--resume", "x", "--set", "seeds=2", "--out", str(tmp_path / "r")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert (
        "--resume: the run keeps the config it was started with" in err and "seeds (3 stored, 2 asked)" in err
    )
    assert sorted(tmp_path.rglob("*")) == before
    assert main([*args[:4], "--set", "seeds=3", "--out", str(folder.parent), "--quick"]) == 2  # --quick too
    assert "--resume: the run keeps the config" in capsys.readouterr().err


def _help(args: list[str], capsys: pytest.CaptureFixture[str], monkeypatch) -> str:
    monkeypatch.setenv("COLUMNS", "200")
    assert main([*args, "--help"]) == 0
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", capsys.readouterr().out).split())


def test_run_help_lists_every_field_with_type_default_and_docstring(capsys, monkeypatch) -> None:
    from mesalab.experiments.red_door import RedDoorConfig
    from mesalab.train.ppo import PPOConfig

    text = _help(["run", "red-door"], capsys, monkeypatch)
    assert "ppo.total_steps: int = 150000 (--quick: 110000)" in text
    docs = [f.name for f in dataclasses.fields(PPOConfig)]  # every field of the config is listed
    assert all(f"ppo.{name}:" in text for name in docs)
    assert "Environment steps to train for (summed over the batch of worlds)." in text
    assert 'obs_mode: str = "symbolic" Observation mode of world and policy' in text
    assert all(
        f" {name}:" in text
        for name in [f.name for f in dataclasses.fields(RedDoorConfig)]
        if name not in ("ppo", "verdict", "recurrent")  # nested configs: listed field by field
    )
    assert 'recurrent.base_optimizer: str = "bc"' in text
    assert "--obs " not in text and "--steps " not in text and "--episodes " not in text  # retired


def test_emergence_and_sweep_help_list_fields(capsys, monkeypatch) -> None:
    text = _help(["run", "emergence-icl"], capsys, monkeypatch)
    assert (
        "pool_sizes: tuple[int | None, ...] = [1, 4, 16, 64, 256, 1024, null] (--quick: [1, 16, null])"
        in text
    )
    assert "trial.steps: int = 2000 (--quick: 600) Training steps (Adam, cosine-decayed)." in text
    text = _help(["sweep", "tiny"], capsys, monkeypatch)
    assert "x: float = 0.0 The input the score depends on." in text
    text = _help(["tune", "tiny"], capsys, monkeypatch)
    assert "fail_when_x: float | None = null" in text
    text = _help(["sweep"], capsys, monkeypatch)
    assert "red-door-arm" in text and "tiny" in text and "lists the fields of NAME" in text


def test_sweep_help_in_a_fresh_process_lists_the_flagships_trials(tmp_path: Path) -> None:
    """In-process the suite has imported every experiment already; a user's process has not."""
    from cli_helpers import mesalab

    listing = mesalab("sweep", "--help", cwd=tmp_path)
    assert (
        listing.returncode == 0
        and "red-door-arm" in listing.stdout
        and "think-longer-width" in listing.stdout
    )
    named = mesalab("sweep", "think-longer-width", "--help", cwd=tmp_path)
    assert named.returncode == 0 and "gate_kernel: int = 1" in named.stdout


def test_worlds_show_help_lists_the_named_spec(capsys, monkeypatch) -> None:
    text = _help(["worlds", "show", "red-door/deploy"], capsys, monkeypatch)
    assert "Spec fields of red-door/deploy" in text and 'exit_colours: tuple[str, ...] = ["blue"]' in text
    assert "Fewest objects per episode." in text
