"""think-longer: a generic recurrent net trained on small mazes, run longer on big ones, probed, shifted.

`config.py` holds the knobs and the `--quick` preset, `run.py` the pipeline, `evaluate.py`
the rollouts over sizes and T, `probe.py` the wavefront probes, `report.py` the write-up,
`trial.py` the sweep trial (the width comparison).
"""
