"""The zoo registry: names, truths, builds, call signatures, exact twins, trained unknowns."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from mesalab.errors import ConfigError, MesalabError, UnknownNameError
from mesalab.hooks import HookedModule, attached_hook_count
from mesalab.models.io import save_model
from mesalab.models.lsa import LinearSelfAttention, LSAConfig
from mesalab.models.policy import ActorCritic, PolicyConfig
from mesalab.shift import assess
from mesalab.store.runs import create_run_dir
from mesalab.zoo import DOMAINS, TRUTHS, ZooEntry, compute_argument, get_entry, zoo_entries
from mesalab.zoo.trained import TokenModel

torch.set_num_threads(1)

ENTRIES = zoo_entries()
BY_NAME = {e.name: e for e in ENTRIES}
TWINS = [e for e in ENTRIES if e.twin_of is not None]


def reference(entry: ZooEntry) -> Any:
    assert entry.reference_inputs is not None, entry.name
    return entry.reference_inputs()


def test_names_unique_and_truths_valid() -> None:
    names = [e.name for e in ENTRIES]
    assert len(names) == len(set(names))
    for entry in ENTRIES:
        assert entry.domain in DOMAINS and entry.truth in TRUTHS and entry.truth != "unknown"
        assert (entry.objective is not None) == (entry.truth == "optimizer")
        assert entry.description and entry.reference_inputs is not None
        assert (entry.world is not None) == (entry.domain == "gridworld")
    optimizers = {e.name for e in ENTRIES if e.truth == "optimizer"}
    assert optimizers == {
        "best-of-k",
        "gd-transformer",
        "gradient-descent",
        "value-iteration",
        "best-of-n",
        "gd-momentum",
        "conjugate-gradient",
        "bfs-planner",
    }
    adversarial = {"icl": "first-order", "gridworld": "lookup-greedy", "choice": "lookup-nn"}
    for name in optimizers:  # every optimizer has all its twins, in its domain, on its reference set
        twins = [e for e in TWINS if e.twin_of == name]
        kinds = ["lookup", "memorizer", "replay", adversarial[BY_NAME[name].domain]]
        assert sorted(e.name for e in twins) == sorted(f"{name}-{k}" for k in kinds)
        assert all(t.domain == BY_NAME[name].domain and t.world == BY_NAME[name].world for t in twins)
    assert {"wall-follower", "red-gradient"} <= set(BY_NAME)


def test_entries_refuse_inconsistent_truths() -> None:
    base = BY_NAME["best-of-n"]
    with pytest.raises(ConfigError, match="objective"):
        ZooEntry("x", "gridworld", "optimizer", None, base.build, "d")
    with pytest.raises(ConfigError, match="domain"):
        ZooEntry("x", "atari", "not-optimizer", None, base.build, "d")
    with pytest.raises(ConfigError, match="twin"):
        ZooEntry("x", "gridworld", "optimizer", "exit", base.build, "d", twin_of="best-of-n")
    with pytest.raises(ConfigError, match="source"):
        ZooEntry("x", "gridworld", "unknown", None, base.build, "d")


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_every_entry_builds_and_keeps_its_domain_signature(entry: ZooEntry) -> None:
    model = entry.build()
    assert isinstance(model, torch.nn.Module) and isinstance(model, HookedModule)
    inputs = reference(entry)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        out, cache = model.run_with_cache(*(inputs if entry.domain == "icl" else (inputs,)))
    count = inputs[0].shape[0] if entry.domain == "icl" else inputs.shape[0]
    expected = {"gridworld": (count, 4), "icl": (count,), "choice": (count, 3)}[entry.domain]
    assert tuple(out.shape) == expected and bool(torch.isfinite(out).all())
    assert cache and attached_hook_count(model) == 0
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    argument = compute_argument(model)
    if argument is not None:  # the test-time compute protocol
        budget = int(getattr(model, "default_compute")) + 2  # noqa: B009
        more = entry.call(model, inputs, **{argument: budget})
        assert tuple(more.shape) == expected
    # deterministic: a second build gives the same outputs
    assert torch.equal(entry.call(entry.build(), reference(entry)), out)


@pytest.mark.parametrize("twin", TWINS, ids=lambda e: e.name)
def test_every_twin_matches_its_optimizer_exactly_on_the_reference_set(twin: ZooEntry) -> None:
    optimizer = BY_NAME[twin.twin_of]  # type: ignore[index]
    inputs = reference(optimizer)
    with torch.no_grad():
        expected = optimizer.call(optimizer.build(), inputs)
        assert torch.equal(twin.call(twin.build(), inputs), expected)


def test_gridworld_entries_pass_through_assess() -> None:
    for entry in ENTRIES:
        if entry.domain == "gridworld":
            result = assess(entry.build(), entry.world or "red-door/train", episodes=6)
            assert result.episodes == 6, entry.name


def test_unknown_entry_name_is_one_line_listing_the_names() -> None:
    with pytest.raises(UnknownNameError) as info:
        get_entry("value-iteratoin")
    message = str(info.value)
    assert "\n" not in message and "value-iteratoin" in message and "value-iteration" in message
    assert isinstance(info.value, MesalabError)
    assert get_entry("wall-follower").truth == "not-optimizer"


def test_trained_models_join_as_unknowns(tmp_path: Path) -> None:
    run = create_run_dir("red-door", PolicyConfig(), root=tmp_path)
    policy_cfg = PolicyConfig(arch="mlp", hidden=8, layers=1)
    save_model(
        ActorCritic(policy_cfg),
        run / "models" / "narrow-seed0",
        "actor-critic",
        policy_cfg,
        {"trained_on": "red-door/train", "base_optimizer": "ppo"},
    )
    lsa_cfg = LSAConfig(token_dim=11, n_layers=1)
    save_model(LinearSelfAttention(lsa_cfg), run / "lsa-1", "lsa", lsa_cfg)
    broken = run / "models" / "broken.safetensors"
    broken.write_bytes(b"not safetensors")
    broken.with_suffix(".json").write_text(
        json.dumps({"format": "mesalab-model/1", "kind": "lsa", "config": lsa_cfg.to_dict()})
    )
    checkpoint = run / "checkpoints" / "narrow-seed0"
    checkpoint.mkdir(parents=True)
    (checkpoint / "checkpoint.safetensors").write_bytes(b"training state")  # never an entry
    with pytest.warns(UserWarning, match=r"skipping .*broken\.safetensors.*not a readable safetensors"):
        entries = zoo_entries(tmp_path)
    trained = [e for e in entries if e.truth == "unknown"]
    assert sorted(e.name for e in trained) == [
        f"trained/{run.name}/lsa-1",
        f"trained/{run.name}/models/narrow-seed0",
    ]
    by_domain = {e.domain: e for e in trained}
    policy_entry, icl_entry = by_domain["gridworld"], by_domain["icl"]
    assert policy_entry.world == "red-door/train" and str(policy_entry.source).endswith(
        "narrow-seed0.safetensors"
    )
    logits = policy_entry.call(policy_entry.build(), reference(policy_entry))
    assert logits.shape == (64, 4)
    model = icl_entry.build()
    assert isinstance(model, TokenModel)
    out, cache = model.run_with_cache(*reference(icl_entry))
    assert out.shape == (64,) and "blocks.0.hook_resid_post" in cache  # the inner model's hook names
    with pytest.warns(UserWarning, match="broken"):
        assert get_entry(policy_entry.name, tmp_path).source == policy_entry.source
    with pytest.raises(MesalabError, match="no such folder"):
        zoo_entries(tmp_path / "missing")
