"""The batched gridworld: perfect mazes with coloured doors and objects.

See `world.GridWorld` for the environment contract and `distributions` for the named
train and deployment distributions of the red-door experiment.
"""

from mesalab.envs.gridworld.distributions import DESCRIPTIONS, DISTRIBUTIONS, get_distribution
from mesalab.envs.gridworld.objectives import BASE_OBJECTIVE, OBJECTIVES, Objective, candidate_names
from mesalab.envs.gridworld.observations import CHANNELS
from mesalab.envs.gridworld.spec import COLOURS, WorldSpec
from mesalab.envs.gridworld.state import NO_TARGET, GridState
from mesalab.envs.gridworld.world import GridWorld

__all__ = [
    "BASE_OBJECTIVE",
    "CHANNELS",
    "COLOURS",
    "DESCRIPTIONS",
    "DISTRIBUTIONS",
    "NO_TARGET",
    "OBJECTIVES",
    "GridState",
    "GridWorld",
    "Objective",
    "WorldSpec",
    "candidate_names",
    "get_distribution",
]
