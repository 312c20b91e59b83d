"""Every random draw derives from `(seed, path)`, never from global RNG state.

`derive_seed(seed, "ppo", "init")` gives a 63-bit integer that depends only on its
arguments; `generator(...)` wraps it in a `torch.Generator`. For draws that must be
independent per world in a batch (so world i of a batch equals world i alone), the
counter-based `hash_uniform(keys, counter)` maps a tensor of per-world keys to uniform
floats with integer ops that give the same bits on CPU and CUDA.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator

import numpy as np
import torch

_MASK32 = 0xFFFFFFFF


def derive_seed(seed: int, *path: object) -> int:
    """A 63-bit seed determined by `seed` and the path of names or numbers below it."""
    text = "/".join([str(int(seed)), *(str(p) for p in path)])
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little") >> 1


def derive_seed31(seed: int, *path: object) -> int:
    """`derive_seed` reduced to [0, 2**31): for seeds kept in configs and 32-bit APIs."""
    return derive_seed(seed, *path) % (2**31)


def generator(seed: int, *path: object, device: str | torch.device = "cpu") -> torch.Generator:
    """A torch generator seeded from `(seed, path)`."""
    gen = torch.Generator(device=device)
    gen.manual_seed(derive_seed(seed, *path))
    return gen


@contextlib.contextmanager
def seeded_init(seed: int, *path: object) -> Iterator[None]:
    """Draws from torch's default CPU generator inside the block come from `(seed, path)`;
    the global generator's state is restored afterwards. For `nn.Module` constructors,
    whose default initialisers take no generator."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(seed, *path))
        yield


def numpy_rng(seed: int, *path: object) -> np.random.Generator:
    """A numpy generator seeded from `(seed, path)`."""
    return np.random.default_rng(derive_seed(seed, *path))


def hash32(x: torch.Tensor) -> torch.Tensor:
    """A 32-bit integer mixing hash on int64 tensors holding values in [0, 2^32).

    Multipliers stay below 2^31 so products stay below 2^63: no signed overflow.
    """
    x = x & _MASK32
    x = x ^ (x >> 16)
    x = (x * 0x7FEB352D) & _MASK32
    x = x ^ (x >> 15)
    x = (x * 0x2C1B3C6D) & _MASK32
    x = x ^ (x >> 16)
    x = (x * 0x297A2D39) & _MASK32
    return x ^ (x >> 16)


def world_keys(seed: int, path: str, ids: torch.Tensor) -> torch.Tensor:
    """Per-world 32-bit keys from `(seed, path, id)`; `ids` is an int64 tensor of any shape."""
    base = derive_seed(seed, path) & _MASK32
    return hash32(hash32(ids.to(torch.int64) + base) ^ (base >> 7))


def hash_uniform(keys: torch.Tensor, counter: torch.Tensor | int) -> torch.Tensor:
    """Uniform floats in [0, 1) from per-element keys and a draw counter, shape of broadcast."""
    mixed = hash32(
        keys ^ hash32(torch.as_tensor(counter, dtype=torch.int64, device=keys.device) + 0x5BD1E995)
    )
    return (mixed >> 8).to(torch.float32) / float(1 << 24)  # 24 bits: exact in float32, < 1
