"""The zoo: models whose internals are known, to score detectors of learned optimization on.

    from mesalab.zoo import zoo_entries, get_entry
    entry = get_entry("best-of-n")          # a ZooEntry: name, domain, truth, objective, ...
    model = entry.build()                   # an nn.Module (a HookedModule where it has internals)
    logits = entry.call(model, entry.reference_inputs())

`zoo_entries(trained_root)` adds every saved model found in run folders under
`trained_root`, with truth `unknown`.
"""

from __future__ import annotations

from pathlib import Path

from mesalab.errors import UnknownNameError
from mesalab.zoo.entry import DOMAINS, TRUTHS, ZooEntry, call_model, compute_argument
from mesalab.zoo.known import ENTRIES
from mesalab.zoo.trained import trained_entries


def zoo_entries(trained_root: Path | str | None = None) -> list[ZooEntry]:
    """The known entries (registry order), then the trained models under `trained_root` if given."""
    return list(ENTRIES) + (trained_entries(Path(trained_root)) if trained_root is not None else [])


def get_entry(name: str, trained_root: Path | str | None = None) -> ZooEntry:
    """The entry called `name` (raises `UnknownNameError` listing the names)."""
    entries = zoo_entries(trained_root)
    for entry in entries:
        if entry.name == name:
            return entry
    raise UnknownNameError("zoo entry", name, [e.name for e in entries])


__all__ = ["DOMAINS", "TRUTHS", "ZooEntry", "call_model", "compute_argument", "get_entry", "zoo_entries"]
