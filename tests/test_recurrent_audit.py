"""A saved recurrent maze net in `mesalab audit` and `mesalab zoo --trained` (issue 11).

The diagnostics see it through its policy view (`models.kinds.POLICY_VIEWS`): a gridworld
policy acting at the agent's cell whose compute knob is T; no module of `detect` names the
recurrent model's classes (it reaches the model through hook names and call signature).
"""

from __future__ import annotations

from pathlib import Path

import torch

from mesalab.detect import compute_scaling, from_saved
from mesalab.detect.evidence import VERDICTS
from mesalab.models.io import save_model
from mesalab.models.recurrent import RecurrentConfig, RecurrentMazeNet
from mesalab.seeding import seeded_init
from mesalab.store import create_run_dir
from mesalab.zoo.trained import trained_entries
from test_layering import import_graph

CFG = RecurrentConfig(width=4, hooked_iterations=0)


def saved_net(folder: Path) -> Path:
    with seeded_init(0, "test"):
        net = RecurrentMazeNet(CFG)
    meta = {"trained_on": "red-door/train", "base_optimizer": "bc"}
    return save_model(net, folder / "models" / "net", "recurrent", CFG, meta=meta)


def test_a_saved_recurrent_net_is_an_auditable_gridworld_subject(tmp_path: Path) -> None:
    subject = from_saved(saved_net(tmp_path))
    assert subject.domain == "gridworld" and subject.world == "red-door/train"
    assert subject.compute_name == "iterations" and subject.default_compute == 44  # 4 x the side
    assert subject.run_longer is not None
    # the view is hooked on exactly the default T: a cache of every iteration finds each filled
    names = [n for n in subject.model.hook_points() if n.endswith("hook_state")]
    assert len(names) == 44
    obs = subject.reference_inputs[:3]
    out, cache = subject.model.run_with_cache(obs, names_filter=lambda n: n.endswith("hook_state"))
    assert out.shape == (3, 4) and len(cache) == 44
    # a hooked pass is computed afresh, and equals the cached pass the rollouts use
    torch.testing.assert_close(subject.model(obs), out)
    evidence = compute_scaling(subject)
    assert evidence.verdict in VERDICTS and evidence.diagnostic == "compute-scaling"


def test_a_saved_recurrent_net_joins_the_zoo_as_unknown(tmp_path: Path) -> None:
    run_dir = create_run_dir("think-longer", CFG, tmp_path)
    saved_net(run_dir)
    (entry,) = [e for e in trained_entries(tmp_path) if e.name.endswith("models/net")]
    assert entry.truth == "unknown" and entry.domain == "gridworld" and entry.world == "red-door/train"
    policy = entry.build()
    obs = entry.reference_inputs()[:2]
    assert policy(obs).shape == (2, 4)


def test_detect_names_no_recurrent_model_class() -> None:
    """Diagnostics reach the recurrent net through hook names and the call signature only."""
    edges = [e for e in import_graph() if e.source.startswith("mesalab.detect")]
    assert not [e for e in edges if e.target.startswith("mesalab.models.recurrent")]
    source = "\n".join(p.read_text() for p in Path(from_saved.__code__.co_filename).parent.glob("*.py"))
    for name in ("RecurrentMazeNet", "RecurrentPolicy", "RecurrentActorCritic"):
        assert name not in source
