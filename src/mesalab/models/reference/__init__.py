"""Hand-built references whose algorithm is known: optimizers written as weights, and their peers."""
