"""Hook names of every model kind and zoo entry, pinned; TransformerLens' calls; the README example."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest
import torch

import mesalab.models.lsa
import mesalab.models.policy
import mesalab.models.recurrent
import mesalab.models.softmax_transformer  # noqa: F401  (each registers its model kind)
from mesalab.errors import MesalabError
from mesalab.hooks import HookedModule, attached_hook_count
from mesalab.models.kinds import MODEL_KINDS
from mesalab.models.lsa import LinearSelfAttention, LSAConfig
from mesalab.zoo import zoo_entries

README = Path(__file__).resolve().parents[1] / "README.md"

LSA_BLOCK = ("hook_resid_pre", "attn.hook_attn_scores", "attn.hook_z", "hook_attn_out", "hook_resid_post")
SOFTMAX_BLOCK = (
    "hook_resid_pre",
    "attn.hook_q",
    "attn.hook_k",
    "attn.hook_v",
    "attn.hook_attn_scores",
    "attn.hook_pattern",
    "attn.hook_z",
    "hook_attn_out",
    "hook_resid_mid",
    "mlp.hook_pre",
    "mlp.hook_post",
    "hook_mlp_out",
    "hook_resid_post",
)
PLANNER = [
    "torso.planner.hook_cells",
    "torso.planner.hook_reward",
    "torso.planner.hook_distance",
    "torso.planner.hook_value",
    "torso.hook_features",
    "actor.hook_logits",
    "critic.hook_value",
]


def _blocks(count: int, per_block: tuple[str, ...]) -> list[str]:
    return ["hook_embed", *[f"blocks.{i}.{name}" for i in range(count) for name in per_block]]


BFS_PLANNER_HOOKS = [f"iters.{t}.hook_{k}" for t in range(48) for k in ("state", "frontier")]
BFS_PLANNER_HOOKS.append("hook_logits")
"""The BFS planner's 48 iterations (state, frontier), then its logits (its replay twin's are the same)."""

KIND_HOOKS: dict[str, list[str]] = {
    "actor-critic": PLANNER,
    "lsa": _blocks(1, LSA_BLOCK),
    "softmax-transformer": _blocks(2, SOFTMAX_BLOCK),
    "recurrent": [
        *[f"iters.{t}.hook_{name}" for t in range(256) for name in ("hidden", "state", "logits")],
        "hook_logits",
        "hook_value",
    ],
}
"""Every model kind built from its default config: its hook names in order."""

TWIN, MEMORIZER = ["hook_out"], ["hook_distances", "hook_out"]
ZOO_HOOKS: dict[str, list[str]] = {
    "best-of-k": ["hook_scores", *[f"selector.layers.{i}.hook_out" for i in range(3)]],
    "best-of-k-lookup": TWIN,
    "best-of-k-memorizer": MEMORIZER,
    "gd-transformer": _blocks(3, LSA_BLOCK),
    "gd-transformer-lookup": TWIN,
    "gd-transformer-memorizer": MEMORIZER,
    "gradient-descent": [f"iters.{k}.hook_iterate" for k in range(3)],
    "gradient-descent-lookup": TWIN,
    "gradient-descent-memorizer": MEMORIZER,
    "value-iteration": [*[f"iters.{t}.hook_state" for t in range(48)], "hook_logits"],
    "value-iteration-lookup": TWIN,
    "value-iteration-memorizer": MEMORIZER,
    "best-of-n": ["hook_returns", "hook_action_values", "hook_logits"],
    "best-of-n-lookup": TWIN,
    "best-of-n-memorizer": MEMORIZER,
    "wall-follower": ["hook_open", "hook_logits"],
    "red-gradient": ["hook_signal", "hook_logits"],
    # adversarial twins and optimizers outside the GD family (issue 12)
    "best-of-k-replay": [
        "hook_scores",
        "selector.layers.0.hook_out",
        "selector.layers.1.hook_out",
        "selector.layers.2.hook_out",
    ],
    "best-of-k-lookup-nn": [
        "table.hook_out",
        "fallback.hook_votes",
        "fallback.hook_out",
        "hook_known",
        "hook_out",
    ],
    "gd-transformer-replay": [
        "hook_embed",
        "blocks.0.hook_resid_pre",
        "blocks.0.attn.hook_attn_scores",
        "blocks.0.attn.hook_z",
        "blocks.0.hook_attn_out",
        "blocks.0.hook_resid_post",
        "blocks.1.hook_resid_pre",
        "blocks.1.attn.hook_attn_scores",
        "blocks.1.attn.hook_z",
        "blocks.1.hook_attn_out",
        "blocks.1.hook_resid_post",
        "blocks.2.hook_resid_pre",
        "blocks.2.attn.hook_attn_scores",
        "blocks.2.attn.hook_z",
        "blocks.2.hook_attn_out",
        "blocks.2.hook_resid_post",
    ],
    "gd-transformer-first-order": ["hook_distances", "hook_correction", "hook_out"],
    "gradient-descent-replay": ["iters.0.hook_iterate", "iters.1.hook_iterate", "iters.2.hook_iterate"],
    "gradient-descent-first-order": ["hook_distances", "hook_correction", "hook_out"],
    "value-iteration-replay": [
        "iters.0.hook_state",
        "iters.1.hook_state",
        "iters.2.hook_state",
        "iters.3.hook_state",
        "iters.4.hook_state",
        "iters.5.hook_state",
        "iters.6.hook_state",
        "iters.7.hook_state",
        "iters.8.hook_state",
        "iters.9.hook_state",
        "iters.10.hook_state",
        "iters.11.hook_state",
        "iters.12.hook_state",
        "iters.13.hook_state",
        "iters.14.hook_state",
        "iters.15.hook_state",
        "iters.16.hook_state",
        "iters.17.hook_state",
        "iters.18.hook_state",
        "iters.19.hook_state",
        "iters.20.hook_state",
        "iters.21.hook_state",
        "iters.22.hook_state",
        "iters.23.hook_state",
        "iters.24.hook_state",
        "iters.25.hook_state",
        "iters.26.hook_state",
        "iters.27.hook_state",
        "iters.28.hook_state",
        "iters.29.hook_state",
        "iters.30.hook_state",
        "iters.31.hook_state",
        "iters.32.hook_state",
        "iters.33.hook_state",
        "iters.34.hook_state",
        "iters.35.hook_state",
        "iters.36.hook_state",
        "iters.37.hook_state",
        "iters.38.hook_state",
        "iters.39.hook_state",
        "iters.40.hook_state",
        "iters.41.hook_state",
        "iters.42.hook_state",
        "iters.43.hook_state",
        "iters.44.hook_state",
        "iters.45.hook_state",
        "iters.46.hook_state",
        "iters.47.hook_state",
        "hook_logits",
    ],
    "value-iteration-lookup-greedy": [
        "table.hook_out",
        "fallback.hook_score",
        "fallback.hook_logits",
        "hook_known",
        "hook_out",
    ],
    "best-of-n-replay": ["hook_returns", "hook_action_values", "hook_logits"],
    "best-of-n-lookup-greedy": [
        "table.hook_out",
        "fallback.hook_score",
        "fallback.hook_logits",
        "hook_known",
        "hook_out",
    ],
    "gd-momentum": ["iters.0.hook_iterate", "iters.1.hook_iterate", "iters.2.hook_iterate"],
    "gd-momentum-lookup": ["hook_out"],
    "gd-momentum-memorizer": ["hook_distances", "hook_out"],
    "gd-momentum-replay": ["iters.0.hook_iterate", "iters.1.hook_iterate", "iters.2.hook_iterate"],
    "gd-momentum-first-order": ["hook_distances", "hook_correction", "hook_out"],
    "conjugate-gradient": ["iters.0.hook_iterate", "iters.1.hook_iterate", "iters.2.hook_iterate"],
    "conjugate-gradient-lookup": ["hook_out"],
    "conjugate-gradient-memorizer": ["hook_distances", "hook_out"],
    "conjugate-gradient-replay": ["iters.0.hook_iterate", "iters.1.hook_iterate", "iters.2.hook_iterate"],
    "conjugate-gradient-first-order": ["hook_distances", "hook_correction", "hook_out"],
    "bfs-planner": BFS_PLANNER_HOOKS,
    "bfs-planner-lookup": ["hook_out"],
    "bfs-planner-memorizer": ["hook_distances", "hook_out"],
    "bfs-planner-replay": BFS_PLANNER_HOOKS,
    "bfs-planner-lookup-greedy": [
        "table.hook_out",
        "fallback.hook_score",
        "fallback.hook_logits",
        "hook_known",
        "hook_out",
    ],
}
"""Every known zoo entry: its hook names in order."""


@pytest.mark.parametrize("kind", MODEL_KINDS.names())
def test_every_model_kind_has_pinned_hook_names(kind: str) -> None:
    assert kind in KIND_HOOKS, f"model kind {kind!r} is new: pin its hook names in KIND_HOOKS"
    config_cls, build = MODEL_KINDS[kind]
    model = build(config_cls())
    assert isinstance(model, HookedModule)
    assert model.hook_names() == KIND_HOOKS[kind]


@pytest.mark.slow
def test_every_zoo_entry_has_pinned_hook_names() -> None:
    found = {}
    for entry in zoo_entries():
        model = entry.build()
        found[entry.name] = model.hook_names() if isinstance(model, HookedModule) else []
    assert found == ZOO_HOOKS


def test_old_names_stay_aliases_of_the_renamed_hooks() -> None:
    model = LinearSelfAttention(LSAConfig(token_dim=5, n_layers=2))
    tokens = torch.randn(3, 4, 5)
    _, cache = model.run_with_cache(tokens, names_filter=["blocks.1.attn.hook_scores"])
    _, new = model.run_with_cache(tokens, names_filter="blocks.1.attn.hook_attn_scores")
    assert torch.equal(cache["blocks.1.attn.hook_scores"], new["blocks.1.attn.hook_attn_scores"])
    with pytest.raises(MesalabError, match=re.escape("unknown hook point 'blocks.1.attn.hook_nothing'")):
        model.run_with_cache(tokens, names_filter="blocks.1.attn.hook_nothing")


def test_run_with_hooks_edits_one_pass_and_reset_hooks_removes_added_hooks() -> None:
    model = LinearSelfAttention(LSAConfig(token_dim=5, n_layers=2, init_scale=0.3))
    tokens = torch.randn(3, 4, 5)
    clean = model(tokens)

    def zero(activation: torch.Tensor, hook: object) -> torch.Tensor:
        return torch.zeros_like(activation)

    edited = model.run_with_hooks(tokens, fwd_hooks=[("blocks.0.attn.hook_attn_scores", zero)])
    assert not torch.allclose(edited, clean)
    assert attached_hook_count(model) == 0 and torch.equal(model(tokens), clean)

    model.add_hook(lambda name: name.endswith("hook_attn_scores"), zero)  # persists until reset
    assert attached_hook_count(model) == 2
    assert torch.equal(model(tokens), model(tokens)) and not torch.allclose(model(tokens), clean)
    model.reset_hooks()
    assert attached_hook_count(model) == 0 and torch.equal(model(tokens), clean)


def readme_example(section: str, folder: Path) -> dict[str, object]:
    """Run the python example under `## section` of the README from a file; its globals."""
    text = README.read_text(encoding="utf-8")
    match = re.search(rf"## {re.escape(section)}\n.*?```python\n(.*?)```", text, re.S)
    assert match, f"README has no python example under '## {section}'"
    assert len(match.group(1).strip().splitlines()) <= 5
    script = folder / "example.py"  # a file, not exec: nnsight reads the source of a trace
    script.write_text(match.group(1), encoding="utf-8")
    return runpy.run_path(str(script))


def test_readme_hooks_example_runs(tmp_path: Path) -> None:
    scope = readme_example("Look inside with hooks", tmp_path)
    model, cache = scope["model"], scope["cache"]
    assert isinstance(model, HookedModule) and attached_hook_count(model) == 0
    assert isinstance(cache, dict) and sorted(cache) == [
        "blocks.0.hook_resid_post",
        "blocks.1.hook_resid_post",
    ]
    assert not torch.allclose(scope["ablated"], scope["pred"])  # type: ignore[arg-type]


def test_the_pinned_kinds_are_every_kind_loading_knows() -> None:
    from mesalab.models.io import _register_builtin_kinds

    _register_builtin_kinds()  # what `load_model` registers before it looks a kind up
    assert set(MODEL_KINDS.names()) == set(KIND_HOOKS)
