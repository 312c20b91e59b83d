"""The batched gridworld: perfect mazes with coloured doors and objects.

See `world.GridWorld` for the environment contract and `distributions` for the named
train and deployment distributions of the red-door experiment.
"""

from mesalab.envs.gridworld.distributions import DESCRIPTIONS, DISTRIBUTIONS, get_distribution
from mesalab.envs.gridworld.gym_adapters import RedDoorEnv, RedDoorVectorEnv, register_gym_envs
from mesalab.envs.gridworld.mixture import MixtureWorld
from mesalab.envs.gridworld.objectives import BASE_OBJECTIVE, OBJECTIVES, Objective, candidate_names
from mesalab.envs.gridworld.observations import CHANNELS
from mesalab.envs.gridworld.spec import COLOURS, WorldSpec
from mesalab.envs.gridworld.state import NO_TARGET, GridState
from mesalab.envs.gridworld.world import GridWorld

GYM_IDS = register_gym_envs()
"""The Gymnasium ids registered on import: `mesalab/RedDoor-train-v0`, ...."""

__all__ = [
    "BASE_OBJECTIVE",
    "CHANNELS",
    "COLOURS",
    "DESCRIPTIONS",
    "DISTRIBUTIONS",
    "GYM_IDS",
    "NO_TARGET",
    "OBJECTIVES",
    "GridState",
    "GridWorld",
    "MixtureWorld",
    "Objective",
    "RedDoorEnv",
    "RedDoorVectorEnv",
    "WorldSpec",
    "candidate_names",
    "get_distribution",
]
