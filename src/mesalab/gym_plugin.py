"""Gymnasium ids for mesalab's worlds in any interpreter, with no `import mesalab` first.

Gymnasium 1.x loads no plugins (0.26-0.29's `gymnasium.envs` entry-point group is gone), so
the install ships `mesalab-gym.pth`, which Python's `site` runs at start-up: it calls
`install()`, a finder that waits for `gymnasium` to be imported and then registers the ids
below with string entry points. Nothing heavy is imported until `gymnasium.make` builds a
world; start-up pays only this stdlib-only module (well under a millisecond).

`WORLDS` is a copy of the registry's versioned distribution ids, pinned to it by a test;
importing `mesalab.envs.gridworld` registers the registry's own list (the same ids) too.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # start-up pays for nothing it does not run (typing, importlib.abc, ...)
if TYPE_CHECKING:
    import importlib.machinery
    from collections.abc import Iterable, Sequence
    from types import ModuleType
    from typing import Any

GYM_NAMESPACE = "mesalab"
ENTRY_POINT = "mesalab.envs.gridworld.gym_adapters:RedDoorEnv"
VECTOR_ENTRY_POINT = "mesalab.envs.gridworld.gym_adapters:RedDoorVectorEnv"

WORLDS: tuple[str, ...] = (
    "oversight/hidden-train-v0",
    "oversight/hidden-unwatched-v0",
    "oversight/hidden-watched-v0",
    "oversight/train-v0",
    "oversight/unwatched-v0",
    "oversight/watched-v0",
    "red-door/blue-exit-v0",
    "red-door/deploy-v0",
    "red-door/diverse-v0",
    "red-door/red-objects-v0",
    "red-door/train-v0",
)
"""Every registered world distribution as `name-vN` (the order of `DISTRIBUTIONS.ids()`)."""


def gym_id(distribution: str, version: int = 0) -> str:
    """`red-door/blue-exit` -> `mesalab/RedDoor-blue-exit-v0`; `maze` -> `mesalab/Maze-v0`."""
    family, _, variant = distribution.partition("/")
    camel = "".join(part.capitalize() for part in family.split("-"))
    return f"{GYM_NAMESPACE}/{camel}{'-' + variant if variant else ''}-v{version}"


def split_version(versioned: str) -> tuple[str, int]:
    """`red-door/train-v0` -> (`red-door/train`, 0)."""
    name, _, version = versioned.rpartition("-v")
    return name, int(version)


def register(gymnasium: Any, worlds: Iterable[str] = WORLDS) -> list[str]:
    """Register each `name-vN` world with `gymnasium`; ids already there are left alone."""
    ids = []
    for versioned in worlds:
        env_id = gym_id(*split_version(versioned))
        ids.append(env_id)
        if env_id in gymnasium.registry:  # registering twice (or on reload) must not warn
            continue
        gymnasium.register(
            id=env_id,
            entry_point=ENTRY_POINT,
            vector_entry_point=VECTOR_ENTRY_POINT,
            kwargs={"distribution": versioned},  # this version, even once a later one exists
        )
    return ids


class _RegisterAfterGymnasium:
    """A meta-path finder that finds nothing: it wraps the loader of `gymnasium` to register
    our ids after gymnasium has run."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "gymnasium":
            return None
        sys.meta_path.remove(self)  # once only
        spec = next(
            (s for s in (f.find_spec(fullname, path, target) for f in sys.meta_path) if s is not None), None
        )
        loader = getattr(spec, "loader", None)
        if spec is None or loader is None or not hasattr(loader, "exec_module"):
            return spec
        run = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run(module)
            try:
                register(module)
            except Exception as error:  # never break a user's `import gymnasium`
                import warnings

                warnings.warn(f"mesalab: could not register its Gymnasium ids: {error}", stacklevel=2)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def install() -> None:
    """Called by `mesalab-gym.pth` at start-up; registers now if `gymnasium` is already loaded."""
    if "gymnasium" in sys.modules:
        register(sys.modules["gymnasium"])
    elif not any(isinstance(finder, _RegisterAfterGymnasium) for finder in sys.meta_path):
        sys.meta_path.insert(0, _RegisterAfterGymnasium())
