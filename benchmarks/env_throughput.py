"""Environment steps per second of the batched gridworld, against Farama Minigrid.

    python benchmarks/env_throughput.py --threads 2 --seconds 3

Measures `GridWorld.step` with observations (symbolic and pixels) at B = 1, 256, 4096,
eager and (on CPU) with the compiled step (`GridWorld(..., fused=True)`),
auto-reset included, with random actions generated on the device beforehand (each figure
the median of three timed windows: the machine may be shared); then
Minigrid's `MiniGrid-FourRooms-v0` (the closest maze-like layout it registers: walled
rooms joined by gaps) as a single env with random actions and resets, if minigrid is
installed. The layout bank is generated before timing, so the figures are steady state.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from mesalab.envs.gridworld import GridWorld, get_distribution
from mesalab.envs.gridworld.fused import fused_kernel
from mesalab.envs.gridworld.layouts import layout_bank
from mesalab.errors import MesalabError

MINIGRID_ENV = "MiniGrid-FourRooms-v0"
BATCHES = (1, 256, 4096)


def _median_rate(step_block: Callable[[], int], seconds: float, windows: int = 3) -> float:
    """Median over `windows` timed windows of steps/s; `step_block` runs a few steps, returns how many."""
    rates = []
    for _ in range(windows):
        steps, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds / windows:
            steps += step_block()
        rates.append(steps / elapsed)
    return statistics.median(rates)


def gridworld_rate(
    distribution: str, obs_mode: str, batch: int, seconds: float, device: torch.device, fused: bool = False
) -> float:
    """Env-steps/s of one `GridWorld` of `batch` worlds (median of 3 windows, ~`seconds` in all)."""
    spec = get_distribution(distribution)
    world = GridWorld(spec, batch, seed=0, obs_mode=obs_mode, device=device, fused=fused)
    world.reset()
    actions = torch.randint(0, 4, (512, batch), device=device)
    for t in range(20):  # warm-up: allocator, caches
        world.step(actions[t])
    cursor = [0]

    def block() -> int:
        for t in range(32):
            world.step(actions[(cursor[0] + t) % actions.shape[0]])
        cursor[0] += 32
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return 32 * batch

    return _median_rate(block, seconds)


def minigrid_rate(seconds: float) -> float | None:
    """Env-steps/s of a single Minigrid env with random actions, or None if not installed."""
    try:
        import gymnasium
        import minigrid  # noqa: F401  (registers the MiniGrid-* ids)
    except ImportError:
        return None
    env = gymnasium.make(MINIGRID_ENV)
    env.reset(seed=0)
    actions = np.random.default_rng(0).integers(0, int(env.action_space.n), size=4096)  # type: ignore[attr-defined]
    cursor = [0]

    def block() -> int:
        for _ in range(256):
            _, _, terminated, truncated, _ = env.step(actions[cursor[0] % actions.shape[0]])
            cursor[0] += 1
            if terminated or truncated:
                env.reset()
        return 256

    return _median_rate(block, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    parser.add_argument("--seconds", type=float, default=3.0, help="timed seconds per figure (default 3)")
    parser.add_argument("--distribution", default="red-door/train", help="gridworld distribution")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    spec = get_distribution(args.distribution)
    start = time.perf_counter()
    layout_bank(spec, device).ensure(torch.arange(spec.num_layouts))
    print(f"threads {args.threads}, device {device}, {args.distribution} size {spec.size}")
    print(
        f"layout bank: {spec.num_layouts} layouts generated in {time.perf_counter() - start:.1f} s (untimed)"
    )

    steppers = ["eager"]
    if device.type == "cpu":
        start = time.perf_counter()
        try:
            fused_kernel()
            steppers.append("fused")
            built = time.perf_counter() - start
            print(f"fused CPU step kernel ready in {built:.1f} s (built once, then cached)")
        except MesalabError as exc:
            print(f"fused step unavailable: {exc}")
    rates: dict[tuple[str, str, int], float] = {}
    for stepper in steppers:
        for obs_mode in ("symbolic", "pixels"):
            for batch in BATCHES:
                rate = gridworld_rate(
                    args.distribution, obs_mode, batch, args.seconds, device, fused=stepper == "fused"
                )
                rates[stepper, obs_mode, batch] = rate
                print(f"gridworld {stepper:<5} {obs_mode:<8} B={batch:<5} {rate:>14,.0f} env-steps/s")

    reference = minigrid_rate(args.seconds)
    if reference is None:
        print("minigrid not installed: skipped the comparison (pip install 'mesalab[bench]')")
        return
    print(f"minigrid  {MINIGRID_ENV} single env  {reference:>10,.0f} env-steps/s")
    for stepper in steppers:
        for obs_mode in ("symbolic", "pixels"):
            ratio = rates[stepper, obs_mode, BATCHES[-1]] / reference
            label = f"B={BATCHES[-1]}, {stepper} {obs_mode}"
            print(f"ratio at {label} vs minigrid: {ratio:,.0f}x (target >= 2000x)")


if __name__ == "__main__":
    main()
