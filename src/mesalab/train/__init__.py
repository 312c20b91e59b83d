"""Base optimizers: PPO on the batched world, behaviour cloning from the BFS oracle."""
