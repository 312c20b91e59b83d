"""Worlds and task samplers: batched, seeded, on CPU or CUDA."""
