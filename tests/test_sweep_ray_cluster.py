"""Sweeps against a Ray cluster started as a user starts one (issue #14, item 8).

`ray start --head` runs as a separate process with its own HOME (holding the token file
that Ray creates at a user's first local `ray.init`) and its own Ray temp folder, so nothing
here touches another Ray on the machine; it is stopped by signalling its process group,
never by `ray stop` (which stops every Ray of the user on the machine). Each case runs the
CLI as a subprocess, as a user would, with its own empty Ray temp folder: a driver that
joined leaves it empty, and the head's session logs show the driver and the workers.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli_helpers import ENV

pytest.importorskip("ray")

RAY = Path(sys.executable).with_name("ray")
TIMEOUT = 240
pytestmark = pytest.mark.skipif(not RAY.exists(), reason="the `ray` command is not installed beside python")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _user_env(home: Path, ray_tmp: Path, **extra: str) -> dict[str, str]:
    """A user's environment: their HOME and Ray temp folder, no Ray settings of a test process."""
    env = {k: v for k, v in ENV.items() if not k.startswith("RAY_")}
    src = str(Path(__file__).resolve().parents[1] / "src")
    env.update(HOME=str(home), RAY_TMPDIR=str(ray_tmp), PYTHONPATH=src, **extra)
    return env


@pytest.fixture(scope="module")
def head() -> Iterator[tuple[str, Path]]:
    """A Ray head with token authentication; yields (address, the head's HOME)."""
    root = Path(tempfile.mkdtemp(prefix="mlray", dir="/tmp"))  # short: Ray's socket paths must fit
    home, ray_tmp = root / "home", root / "rt"
    home.mkdir()
    env = _user_env(home, ray_tmp)
    subprocess.run([str(RAY), "get-auth-token", "--generate"], env=env, capture_output=True, timeout=120)
    assert (home / ".ray" / "auth_token").is_file()
    port = _free_port()
    command = [str(RAY), "start", "--head", "--block", f"--port={port}", "--num-cpus=2"]
    command += ["--include-dashboard=false", "--disable-usage-stats"]
    log = (root / "head.log").open("w")
    process = subprocess.Popen(
        command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        _wait_for_port(port, process, root / "head.log")
        time.sleep(2)  # the port opens before the head takes clients
        yield f"127.0.0.1:{port}", home
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=30)
                break
        log.close()
        shutil.rmtree(root, ignore_errors=True)


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"ray start exited: {log.read_text()[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.5)
    pytest.fail(f"the Ray head did not open port {port}: {log.read_text()[-2000:]}")


def _sweep(address: str | None, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    args = ["sweep", "tiny", "--axis", "x=0,1", "--seeds", "1", "--out", "runs", "--quiet"]
    args += ["--address", address] if address else []
    command = [sys.executable, "-m", "mesalab", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT)


def _check_results(cwd: Path) -> None:
    (sweep_dir,) = (cwd / "runs").iterdir()
    records = [json.loads(p.read_text()) for p in sorted(sweep_dir.glob("*/results.json"))]
    assert len(records) == 2 and all(r["status"] == "done" for r in records)
    assert sorted(r["params"]["x"] for r in records) == [0.0, 1.0]
    assert all(r["schema_version"] == 1 for r in records)
    assert json.loads((sweep_dir / "sweep.json").read_text())["schema_version"] == 1


def _head_logs(head_home: Path) -> list[str]:
    ray_tmp = head_home.parent / "rt" / "ray"
    return [p.name for p in ray_tmp.glob("session_*/logs/python-core-*.log")]


def test_a_sweep_joins_with_the_token_in_the_default_file(head, tmp_path: Path) -> None:
    address, head_home = head
    before = _head_logs(head_home)
    result = _sweep(address, tmp_path, _user_env(head_home, tmp_path / "rt"))  # the head's own machine
    assert result.returncode == 0, result.stderr[-3000:]
    assert "trials: 2 done, 0 failed" in result.stdout
    _check_results(tmp_path)
    assert not (tmp_path / "rt").exists(), "the driver joined: it started no Ray of its own"
    new = set(_head_logs(head_home)) - set(before)
    assert any(n.startswith("python-core-driver") for n in new), "the driver connected to the head"
    assert any(n.startswith("python-core-worker") for n in new), "the trials ran in the head's workers"
    assert not (head_home.parent / "runs").exists(), "workers wrote into the sweep folder, not their own cwd"


def test_a_sweep_joins_with_the_token_in_the_environment(head, tmp_path: Path) -> None:
    address, head_home = head
    token = (head_home / ".ray" / "auth_token").read_text().strip()  # what `ray get-auth-token` prints
    (tmp_path / "home").mkdir()
    env = _user_env(tmp_path / "home", tmp_path / "rt", RAY_AUTH_TOKEN=token)  # another user's machine
    result = _sweep(address, tmp_path, env)
    assert result.returncode == 0, result.stderr[-3000:]
    _check_results(tmp_path)


def test_a_sweep_without_the_token_fails_in_one_line_naming_the_fix(head, tmp_path: Path) -> None:
    address, _ = head
    (tmp_path / "home").mkdir()
    # Ray retries a refused client for 20 s by default; 5 s tells the same
    env = _user_env(tmp_path / "home", tmp_path / "rt", RAY_py_gcs_connect_timeout_s="5")
    result = _sweep(address, tmp_path, env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: the Ray cluster at {address} refused this client, which has no Ray token (a cluster "
        "that `ray start` started where ~/.ray/auth_token exists asks for one): set RAY_AUTH_TOKEN to "
        "the cluster's token (`ray get-auth-token` on its head node prints it) or RAY_AUTH_TOKEN_PATH "
        "to a file holding it (see docs/sweeps.md)"
    ]
    assert not (tmp_path / "runs").exists()


def test_a_local_sweep_starts_its_own_ray_beside_the_record_of_a_dead_head(tmp_path: Path) -> None:
    """A `ray start --head` that was killed leaves `ray_current_cluster` behind; a plain
    `ray.init(num_cpus=...)` would try to join it and fail."""
    ray_tmp = Path(tempfile.mkdtemp(prefix="mlray", dir="/tmp"))
    (ray_tmp / "ray").mkdir()
    (ray_tmp / "ray" / "ray_current_cluster").write_text(f"127.0.0.1:{_free_port()}")
    (tmp_path / "home").mkdir()
    try:
        result = _sweep(None, tmp_path, _user_env(tmp_path / "home", ray_tmp))
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)
    assert result.returncode == 0, result.stderr[-3000:]
    _check_results(tmp_path)
    assert "Token authentication" not in result.stderr, "Ray's token warning is not printed at each start"
