"""Base optimizers: PPO on the batched world (`ppo`), behaviour cloning from the BFS oracle
(`bc`), supervised training on in-context regression (`supervised`)."""
