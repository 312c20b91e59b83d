"""LSA and softmax transformer: pinned hook names, save/load round trip, interventions leave no trace."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mesalab.detect.icl_compare import mesa_objective_curve, residual_names
from mesalab.envs.icl import TaskSpec, sample_seeded
from mesalab.hooks import HookedModule, attached_hook_count
from mesalab.models import load_model, save_model
from mesalab.models.lsa import LinearSelfAttention, LSAConfig
from mesalab.models.reference.gd import gd_construction
from mesalab.models.softmax_transformer import SoftmaxTransformer, SoftmaxTransformerConfig

SPEC = TaskSpec(dim=4, n_context=6)


def test_lsa_hook_names_are_pinned() -> None:
    model = LinearSelfAttention(LSAConfig(token_dim=5, n_layers=2))
    assert model.hook_names() == [
        "hook_embed",
        *[
            f"blocks.{i}.{n}"
            for i in range(2)
            for n in (
                "hook_resid_pre",
                "attn.hook_attn_scores",
                "attn.hook_z",
                "hook_attn_out",
                "hook_resid_post",
            )
        ],
    ]
    assert model.hook_aliases() == {
        f"blocks.{i}.attn.hook_scores": f"blocks.{i}.attn.hook_attn_scores" for i in range(2)
    }


def test_softmax_transformer_hook_names_are_pinned() -> None:
    model = SoftmaxTransformer(
        SoftmaxTransformerConfig(token_dim=5, d_model=16, n_layers=2, n_heads=2, d_mlp=32)
    )
    per_block = [
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
    ]
    assert model.hook_names() == ["hook_embed"] + [f"blocks.{i}.{n}" for i in range(2) for n in per_block]


def test_cached_shapes() -> None:
    batch = sample_seeded(SPEC, 8, 0, "shapes")
    soft = SoftmaxTransformer(SoftmaxTransformerConfig(token_dim=5, d_model=16, n_heads=2, d_mlp=32))
    pred, cache = soft.run_with_cache(batch.tokens())
    assert pred.shape == (8,)
    assert cache["blocks.1.attn.hook_pattern"].shape == (8, 2, 7, 7)
    lsa = LinearSelfAttention(LSAConfig(token_dim=5, n_layers=1))
    pred, cache = lsa.run_with_cache(batch.tokens())
    assert pred.shape == (8,) and cache["blocks.0.attn.hook_attn_scores"].shape == (8, 7, 6)
    # the name before the TransformerLens rename still reads the same activation
    _, old = lsa.run_with_cache(batch.tokens(), names_filter="blocks.0.attn.hook_scores")
    assert torch.equal(old["blocks.0.attn.hook_scores"], cache["blocks.0.attn.hook_attn_scores"])


@pytest.mark.parametrize(
    ("kind", "model"),
    [
        ("lsa", LinearSelfAttention(LSAConfig(token_dim=5, n_layers=3, init_scale=0.3, init_seed=4))),
        (
            "softmax-transformer",
            SoftmaxTransformer(SoftmaxTransformerConfig(token_dim=5, d_model=16, n_heads=2, d_mlp=32)),
        ),
    ],
)
def test_save_load_round_trip(tmp_path: Path, kind: str, model: HookedModule) -> None:
    batch = sample_seeded(SPEC, 16, 0, "io")
    cfg = model.cfg  # type: ignore[attr-defined]
    weights = save_model(model, tmp_path / "m", kind, cfg)
    assert weights.suffix == ".safetensors" and (tmp_path / "m.json").exists()
    loaded, meta = load_model(tmp_path / "m")
    assert meta["kind"] == kind and type(loaded) is type(model)
    with torch.no_grad():
        torch.testing.assert_close(loaded(batch.tokens()), model.eval()(batch.tokens()), rtol=0, atol=0)


def test_mesa_curve_reads_the_gd_iterates_and_leaves_no_hook() -> None:
    probe = sample_seeded(SPEC, 2048, 0, "probe")
    test = sample_seeded(SPEC, 512, 0, "test")
    model = gd_construction(SPEC.dim, 0.8, 2)
    before = [p.clone() for p in model.parameters()]
    curve = mesa_objective_curve(model, probe, test)
    assert [r.layer for r in curve] == residual_names(model)
    losses = [r.in_context_loss for r in curve]
    assert losses[0] > losses[1] > losses[2]  # each GD layer descends the in-context loss
    assert attached_hook_count(model) == 0
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
