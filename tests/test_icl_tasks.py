"""The in-context regression task family: validation, named shifts, seeded batched sampling."""

from __future__ import annotations

import pytest
import torch

from mesalab.envs.icl import TASKS, TaskSpec, get_task, sample_seeded, shifted, task_pool
from mesalab.envs.icl.distributions import NAMED_CHANGES
from mesalab.errors import ConfigError

torch.set_num_threads(1)


@pytest.mark.parametrize(
    ("field", "value"),
    [("dim", 0), ("n_context", 0), ("pool_size", 0), ("noise", -0.1), ("x_scale", -1.0), ("w_scale", 0.0)],
)
def test_bad_spec_names_the_field(field: str, value: float) -> None:
    with pytest.raises(ConfigError) as info:
        TaskSpec(**{field: value})
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")


@pytest.mark.parametrize("name", TASKS.names())
def test_distribution_differs_from_train_exactly_in_named_fields(name: str) -> None:
    diff = get_task("icl/train").diff(get_task(name))
    assert {field for field, _, _ in diff} == set(NAMED_CHANGES[name])
    assert {field: new for field, _, new in diff} == NAMED_CHANGES[name]
    assert (name == "icl/train") == (not diff)


def test_shifted_applies_the_same_change_to_another_base() -> None:
    base = TaskSpec(dim=4, n_context=6)
    assert shifted(base, "icl/x-scale-2") == base.replace(x_scale=2.0)
    assert base.diff(shifted(base, "icl/long-context")) == [("n_context", 6, 20)]


@pytest.mark.parametrize("name", TASKS.names())
def test_sampling_is_seeded_and_targets_follow_w(name: str) -> None:
    spec = get_task(name)
    a = sample_seeded(spec, 64, 3, "test", name)
    b = sample_seeded(spec, 64, 3, "test", name)
    c = sample_seeded(spec, 64, 4, "test", name)
    assert torch.equal(a.x, b.x) and torch.equal(a.y_query, b.y_query)
    assert not torch.equal(a.x, c.x)
    n, d = spec.n_context, spec.dim
    assert a.x.shape == (64, n, d) and a.y.shape == (64, n) and a.x_query.shape == (64, d)
    tokens = a.tokens()
    assert tokens.shape == (64, n + 1, d + 1)
    assert torch.equal(tokens[:, :n, :d], a.x) and torch.equal(tokens[:, :n, d], a.y)
    assert torch.equal(tokens[:, n, :d], a.x_query) and torch.all(tokens[:, n, d] == 0)
    clean = torch.einsum("bnd,bd->bn", a.x, a.w)
    if spec.noise == 0:
        torch.testing.assert_close(a.y, clean)
    else:
        assert (a.y - clean).std() == pytest.approx(spec.noise, rel=0.1)
    if spec.x_dist == "uniform":
        assert a.x.abs().max() <= spec.x_scale


def test_finite_pool_draws_from_a_fixed_set() -> None:
    spec = TaskSpec(dim=3, pool_size=4, pool_seed=7)
    pool = task_pool(spec)
    batch = sample_seeded(spec, 200, 0, "pool")
    matches = (batch.w.unsqueeze(1) == pool.unsqueeze(0)).all(-1)  # (B, M)
    assert torch.all(matches.sum(-1) == 1)
    assert matches.any(0).all()  # 200 draws hit all four tasks
    assert torch.equal(task_pool(spec), pool)


def test_experiment_config_round_trips_and_checks_shift_names() -> None:
    from mesalab.experiments.icl_gd import QUICK, IclGdConfig, with_steps

    cfg = QUICK.replace(task=TaskSpec(dim=3, pool_size=5))
    assert IclGdConfig.from_json(cfg.to_json()) == cfg
    assert with_steps(cfg, 7).lsa3_steps == 7
    with pytest.raises(ConfigError) as info:
        IclGdConfig(shifts=("icl/nowhere",))
    assert info.value.field == "shifts"
