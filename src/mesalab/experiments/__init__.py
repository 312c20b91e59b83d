"""Flagship experiments: each a frozen config plus `run(cfg, ...) -> run folder`."""
