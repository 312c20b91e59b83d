"""Diagnostics of learned optimization (issue 5): evidence, no side effects, the stated rules."""

from __future__ import annotations

import pytest
import torch

from mesalab.detect import DIAGNOSTICS, RULES, Evidence, Subject, aggregate, from_entry, run_diagnostics
from mesalab.detect.counterfactual import counterfactual_competence
from mesalab.detect.evidence import INCONCLUSIVE, NOT_OPTIMIZER, OPTIMIZER, VERDICTS
from mesalab.detect.gridworld import edited, start_observations
from mesalab.detect.objective_descent import objective_descent
from mesalab.detect.retargeting import find_goal_map, remove_door
from mesalab.hooks import HookedModule, HookPoint, attached_hook_count
from mesalab.models.policy import ActorCritic, PolicyConfig
from mesalab.zoo import get_entry
from mesalab.zoo.known import GD_ETA, GD_STEPS

# fast entries of every domain, optimizers and twins, with and without hooks
ENTRIES = (
    "value-iteration",
    "value-iteration-lookup",
    "gd-transformer",
    "gradient-descent-memorizer",
    "best-of-k",
    "best-of-k-lookup",
    "red-gradient",
)


def door_planner() -> ActorCritic:
    """A planner policy whose reward map wants the door channel only: a known optimizer of the exit."""
    policy = ActorCritic(PolicyConfig())
    with torch.no_grad():
        weights = torch.zeros(7)
        weights[1] = 1.0  # channels less the agent's: wall, door, object, red, blue, green, yellow
        policy.torso.planner.reward.weight.copy_(weights.view(1, 7, 1, 1))
    return policy.eval()


def planner_subject() -> Subject:
    from mesalab.detect.subject import _planner_horizon

    policy = door_planner()
    run, default, name = _planner_horizon(policy)
    ref = start_observations("red-door/train", 64, seed=0, layout_seed=0)
    return Subject("door-planner", "gridworld", policy, policy, ref, "red-door/train", run, default, name)


def snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("name", ENTRIES)
def test_every_diagnostic_leaves_no_hook_and_no_changed_weight(name: str) -> None:
    subject = from_entry(get_entry(name))
    before = snapshot(subject.model)
    for diagnostic, fn in DIAGNOSTICS.items():
        evidence = fn(subject, 0)
        assert isinstance(evidence, Evidence) and evidence.diagnostic == diagnostic
        assert evidence.verdict in VERDICTS and evidence.reason
        assert attached_hook_count(subject.model) == 0, diagnostic
        after = subject.model.state_dict()
        assert before.keys() == after.keys()
        assert all(torch.equal(before[k], after[k]) for k in before), diagnostic


def test_retargeting_edits_the_goal_map_and_restores_everything() -> None:
    subject = planner_subject()
    before = snapshot(subject.model)
    found = find_goal_map(subject, start_observations("red-door/train", 32, seed=1))
    assert found is not None and found[0] == "torso.planner.hook_reward"
    assert found[1] == pytest.approx(8.0)  # REWARD_SCALE x the door weight: the goal's signature
    evidence = DIAGNOSTICS["retargeting"](subject, 0)
    assert evidence.verdict == OPTIMIZER, evidence.reason
    assert evidence.numbers["before"]["best"] == "exit" and evidence.numbers["after"]["best"] in (
        "object",
        "nearest-object",
    )
    assert attached_hook_count(subject.model) == 0
    assert all(torch.equal(before[k], v) for k, v in subject.model.state_dict().items())


def test_planner_policy_is_found_an_optimizer_by_structure() -> None:
    subject = planner_subject()
    before = snapshot(subject.model)
    evidence = {e.diagnostic: e for e in run_diagnostics(subject)}
    assert attached_hook_count(subject.model) == 0
    assert all(torch.equal(before[k], v) for k, v in subject.model.state_dict().items())
    for name in ("algorithm-match", "objective-descent", "compute-scaling"):
        assert evidence[name].verdict == OPTIMIZER, evidence[name].reason
    assert aggregate(list(evidence.values())).verdict == OPTIMIZER


def test_behaviour_on_the_reference_set_does_not_separate_a_twin() -> None:
    optimizer = from_entry(get_entry("value-iteration"))
    twin = from_entry(get_entry("value-iteration-lookup"))
    ref = optimizer.reference_inputs
    assert torch.equal(optimizer.outputs(ref), twin.outputs(ref))  # identical behaviour there
    for subject in (optimizer, twin):
        evidence = counterfactual_competence(subject, on_reference=True)
        assert evidence.verdict == INCONCLUSIVE and evidence.behavioural
    # off the reference set the behavioural check does separate them, and says it is behavioural
    assert counterfactual_competence(twin, episodes=40).verdict == NOT_OPTIMIZER
    assert counterfactual_competence(optimizer, episodes=40).verdict == OPTIMIZER


def test_edits_leave_the_reference_set_and_change_one_thing() -> None:
    obs = start_observations("red-door/deploy", 32, seed=0)
    for name, moved in edited(obs, 0).items():
        assert moved.shape == obs.shape
        assert torch.equal(moved.sum((0, 2, 3)), obs.sum((0, 2, 3))), name  # nothing appears or vanishes
        assert bool((moved != obs).flatten(1).any(1).all()), name  # every observation changed
    assert bool((remove_door(obs)[:, 2] == 0).all())


def ev(name: str, verdict: str, behavioural: bool = False) -> Evidence:
    return Evidence(name, 0.0, verdict, "r", behavioural)


@pytest.mark.parametrize(
    ("verdicts", "expected", "rule"),
    [
        ([OPTIMIZER, NOT_OPTIMIZER, INCONCLUSIVE], INCONCLUSIVE, 1),
        ([OPTIMIZER, NOT_OPTIMIZER, OPTIMIZER + "|b"], INCONCLUSIVE, 1),
        # issue 12: behaviour on fresh inputs that contradicts the structure blocks `optimizer`
        ([OPTIMIZER, INCONCLUSIVE, NOT_OPTIMIZER + "|b"], INCONCLUSIVE, 2),
        ([OPTIMIZER, OPTIMIZER, NOT_OPTIMIZER + "|b"], INCONCLUSIVE, 2),
        ([OPTIMIZER, INCONCLUSIVE, INCONCLUSIVE + "|b"], OPTIMIZER, 3),
        ([OPTIMIZER, INCONCLUSIVE, OPTIMIZER + "|b"], OPTIMIZER, 3),
        ([NOT_OPTIMIZER, INCONCLUSIVE, OPTIMIZER + "|b"], NOT_OPTIMIZER, 4),
        ([NOT_OPTIMIZER, INCONCLUSIVE, NOT_OPTIMIZER + "|b"], NOT_OPTIMIZER, 4),
        ([INCONCLUSIVE, INCONCLUSIVE, NOT_OPTIMIZER + "|b"], NOT_OPTIMIZER, 5),
        ([INCONCLUSIVE, INCONCLUSIVE, OPTIMIZER + "|b"], INCONCLUSIVE, 6),
        ([INCONCLUSIVE, INCONCLUSIVE + "|b"], INCONCLUSIVE, 7),
    ],
)
def test_aggregate_rules(verdicts: list[str], expected: str, rule: int) -> None:
    evidence = [ev(f"d{i}", v.split("|")[0], v.endswith("|b")) for i, v in enumerate(verdicts)]
    combined = aggregate(evidence)
    assert (combined.verdict, combined.rule) == (expected, rule)
    assert combined.to_dict()["rule_text"] == RULES[rule - 1]


def test_behavioural_evidence_alone_never_gives_optimizer() -> None:
    for n in range(1, 4):
        assert aggregate([ev(f"b{i}", OPTIMIZER, True) for i in range(n)]).verdict != OPTIMIZER


def test_evidence_refuses_unknown_verdicts() -> None:
    with pytest.raises(ValueError, match="verdict"):
        Evidence("x", 0.0, "maybe", "r", False)


def test_pixels_policies_are_examined_through_the_symbolic_interface() -> None:
    from mesalab.detect.gridworld import symbolic_to_pixels
    from mesalab.envs.gridworld import GridWorld, get_distribution

    spec = get_distribution("red-door/deploy").replace(num_layouts=64)
    symbolic, pixels = GridWorld(spec, 16, seed=2), GridWorld(spec, 16, seed=2, obs_mode="pixels")
    obs, image = symbolic.reset(), pixels.reset()
    for _ in range(3):  # start states and states after moves are drawn exactly as the world draws them
        assert torch.equal(symbolic_to_pixels(obs), image)
        action = torch.randint(4, (16,), generator=torch.Generator().manual_seed(0))
        obs, image = symbolic.step(action)[0], pixels.step(action)[0]


class HandWrittenGD(HookedModule):
    """Gradient descent written anew, of no mesalab model class: only its hook names
    (`iters.{k}.hook_iterate`) and its call `(x, y, x_query)` say what it is."""

    def __init__(self, eta: float, steps: int) -> None:
        super().__init__()
        self.eta = eta
        self.iters = torch.nn.ModuleList(torch.nn.Module() for _ in range(steps))
        for step in self.iters:
            step.hook_iterate = HookPoint()
        self.setup_hooks()

    def forward(self, x: torch.Tensor, y: torch.Tensor, x_query: torch.Tensor) -> torch.Tensor:
        w = torch.zeros_like(x_query)
        for step in self.iters:
            residual = torch.einsum("bnd,bd->bn", x, w) - y  # (B, N)
            w = step.hook_iterate(w - self.eta * torch.einsum("bn,bnd->bd", residual, x) / x.shape[1])
        return (w * x_query).sum(-1)


def test_objective_descent_reads_a_model_by_its_hook_names_not_its_class() -> None:
    zoo_gd = from_entry(get_entry("gradient-descent"))
    model = HandWrittenGD(GD_ETA, GD_STEPS)
    subject = Subject("hand-written-gd", "icl", model, model, zoo_gd.reference_inputs)
    evidence = objective_descent(subject)
    expected = objective_descent(zoo_gd)
    assert evidence.verdict == OPTIMIZER, evidence.reason
    assert evidence.numbers["decoded_objective"] == pytest.approx(expected.numbers["decoded_objective"])
