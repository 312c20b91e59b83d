"""Ray for trials: start a local cluster or join one, run trials as tasks, at most K at once.

`ray_session(address, num_cpus)` starts a local Ray instance of its own when `address` is
None (and shuts it down afterwards), whatever else runs on the machine; joins an existing
cluster otherwise (after a quick TCP check, so an unreachable address is a one-line error,
not a long hang), with the cluster's token where one is found (see `ray_auth`); and reuses
a Ray already initialised in this process. `TrialPool` keeps at most `workers` trials in
flight; each trial is one task with `num_cpus = threads` and no retries, so a trial
that crashes its worker is recorded as failed instead of silently run again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from mesalab.config import Config
from mesalab.errors import MesalabError
from mesalab.store import write_json_atomic
from mesalab.sweep.ray_auth import auth_failure, refusals_hidden, use_token_auth

DEFAULT_PORTS = {"ray": 10001, "": 6379}
"""Default port of a Ray client address (`ray://host`) and of a GCS address (`host`)."""


@dataclass
class RaySession:
    """What `ray_session` did: whether it started Ray here and how long starting took."""

    started_here: bool
    start_s: float
    address: str | None
    stop_s: float = 0.0


def check_address(address: str, timeout_s: float = 3.0) -> None:
    """Raise `MesalabError` unless a TCP connection to the address's host:port opens."""
    if address in ("auto", "local"):
        return
    parsed = urlparse(address if "://" in address else f"//{address}")
    host = parsed.hostname
    try:
        port = parsed.port or DEFAULT_PORTS.get(parsed.scheme, 6379)
    except ValueError:
        raise MesalabError(f"--address {address!r}: the port is not a number") from None
    if not host:
        raise MesalabError(f"--address {address!r}: expected HOST:PORT or ray://HOST:PORT")
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError as exc:
        raise MesalabError(f"cannot reach a Ray cluster at {address} ({host}:{port}: {exc})") from None


def ray_available() -> None:
    try:
        import ray  # noqa: F401
    except ImportError:
        raise MesalabError("sweeps need Ray: pip install 'mesalab[sweep]'") from None


@contextlib.contextmanager
def ray_session(address: str | None, num_cpus: int) -> Iterator[RaySession]:
    """Ray for the duration of the block (see the module docstring)."""
    ray_available()
    import ray
    from ray.exceptions import RayError

    if ray.is_initialized():
        yield RaySession(started_here=False, start_s=0.0, address=address)
        return
    if address is not None:
        check_address(address)
    start = time.perf_counter()
    joining = address not in (None, "local")
    use_token_auth(joining)
    try:
        if joining:
            with refusals_hidden():
                ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
        else:  # "local": a new cluster even where a record of another one lies in Ray's temp folder
            ray.init(
                address="local",
                num_cpus=num_cpus,
                include_dashboard=False,
                log_to_driver=False,
                logging_level=logging.WARNING,
            )
    except (ConnectionError, RuntimeError, ValueError, RayError) as exc:
        message = auth_failure(exc, address) if joining else None
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        message = message or f"cannot start or join Ray (address {address or 'local'}): {first}"
        raise MesalabError(message) from None
    session = RaySession(started_here=True, start_s=time.perf_counter() - start, address=address)
    try:
        yield session
    finally:
        stop = time.perf_counter()
        ray.shutdown()
        session.stop_s = time.perf_counter() - stop


# ---- one trial, inside a worker --------------------------------------------------------------------


def execute_trial(
    run: Callable[[Config, Path], dict[str, Any]],
    cfg: Config,
    trial_dir: str,
    meta: dict[str, Any],
    threads: int,
) -> dict[str, Any]:
    """Run one trial and record it in its folder: `results.json` last, or `error.json`.

    Runs in a Ray worker (or in-process); never raises for an error of the trial itself.
    """
    import torch

    torch.set_num_threads(threads)
    os.environ["MESALAB_THREADS"] = str(threads)
    folder = Path(trial_dir)
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    try:
        results = run(cfg, folder)
        if not isinstance(results, dict):
            raise TypeError(f"run returned {type(results).__name__}, expected a dict of results")
        record = {**meta, "status": "done", "results": results, "error": None}
        record["wall_s"] = time.perf_counter() - start
        (folder / "error.json").unlink(missing_ok=True)
        write_json_atomic(folder / "results.json", record)  # last: marks the trial finished
    except Exception as exc:
        record = {**meta, "status": "failed", "results": {}, "error": one_line(exc)}
        record["wall_s"] = time.perf_counter() - start
        write_json_atomic(folder / "error.json", {**record, "traceback": traceback.format_exc()})
    return record


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


# ---- the pool ---------------------------------------------------------------------------------------


@dataclass
class TrialTask:
    """A trial to run: the experiment's function, its config, folder and metadata."""

    key: str
    run: Callable[[Config, Path], dict[str, Any]]
    cfg: Config
    trial_dir: Path
    meta: dict[str, Any]


class TrialPool:
    """At most `workers` trials in flight as Ray tasks; `wait_one` returns the next finished."""

    def __init__(self, workers: int, threads: int) -> None:
        import ray

        self._ray = ray
        self.workers, self.threads = workers, threads
        self._remote = ray.remote(execute_trial).options(num_cpus=threads, max_retries=0)
        self._in_flight: dict[Any, TrialTask] = {}

    @property
    def running(self) -> int:
        return len(self._in_flight)

    @property
    def has_room(self) -> bool:
        return len(self._in_flight) < self.workers

    def submit(self, task: TrialTask) -> None:
        # absolute: a worker of a cluster someone else started runs in that head's folder, not ours
        folder = str(task.trial_dir.resolve())
        ref = self._remote.remote(task.run, task.cfg, folder, task.meta, self.threads)
        self._in_flight[ref] = task

    def wait_one(self) -> tuple[TrialTask, dict[str, Any]]:
        """Block until a trial finishes; a crashed worker gives a failed record."""
        ready, _ = self._ray.wait(list(self._in_flight), num_returns=1)
        task = self._in_flight.pop(ready[0])
        try:
            record = self._ray.get(ready[0])
        except Exception as exc:  # the worker died or the result could not travel back
            record = {**task.meta, "status": "failed", "results": {}, "error": one_line(exc), "wall_s": 0.0}
            write_json_atomic(task.trial_dir / "error.json", {**record, "traceback": str(exc)})
        # a worker on a node that does not share this folder wrote its files there: keep a copy here
        own = task.trial_dir / ("results.json" if record["status"] == "done" else "error.json")
        if not own.exists():
            write_json_atomic(own, record)
        return task, record

    def cancel_all(self) -> None:
        for ref in list(self._in_flight):
            with contextlib.suppress(Exception):
                self._ray.cancel(ref, force=True)
        self._in_flight.clear()
