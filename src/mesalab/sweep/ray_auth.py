"""Ray's token authentication, as a sweep meets it when it starts or joins a cluster.

Ray 2.60 (the version mesalab is tested with) turns token authentication on for a cluster it starts wherever a
token exists: `ray start --head` uses `~/.ray/auth_token`, which any earlier local
`ray.init` on that machine created. A client of such a cluster must present the token,
taken from `RAY_AUTH_TOKEN`, from the file `RAY_AUTH_TOKEN_PATH` names, or from
`~/.ray/auth_token` (what `ray get-auth-token` on the head prints), and must run with
`RAY_AUTH_MODE=token`. Ray sets that mode itself only when it finds a local cluster on its
own (`address="auto"`), never for an explicit address; `use_token_auth` sets it for a join
wherever a token is at hand (a cluster without authentication accepts such a client too).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

MODE_ENV, TOKEN_ENV, TOKEN_PATH_ENV = "RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"

FIX = (
    "set RAY_AUTH_TOKEN to the cluster's token (`ray get-auth-token` on its head node prints it) "
    "or RAY_AUTH_TOKEN_PATH to a file holding it (see docs/sweeps.md)"
)
"""What a user does about a refused join."""


def token_source() -> str | None:
    """Where this machine's Ray token comes from (`RAY_AUTH_TOKEN` or a file), None without one."""
    if os.environ.get(TOKEN_ENV, "").strip():
        return TOKEN_ENV
    named = os.environ.get(TOKEN_PATH_ENV)
    path = Path(named).expanduser() if named else Path.home() / ".ray" / "auth_token"
    return str(path) if path.is_file() else None


def use_token_auth(joining: bool) -> None:
    """Run Ray with `RAY_AUTH_MODE=token` unless the user chose a mode.

    For a new local cluster this is Ray's own default made explicit, which also silences
    the warning Ray prints at every start when the mode is unset; for a cluster joined by
    address it is set only where a token is at hand.
    """
    if MODE_ENV in os.environ or (joining and token_source() is None):
        return
    os.environ[MODE_ENV] = "token"
    try:  # Ray reads its settings once, at import: make it read them again, as Ray does itself
        from ray._raylet import Config  # type: ignore[attr-defined]
    except ImportError:
        return
    Config.initialize("")


def auth_failure(exc: BaseException, address: str | None) -> str | None:
    """The one-line message for a join that authentication refused; None for other failures."""
    if type(exc).__name__ == "AuthenticationError":  # token mode, and no token found
        return f"the Ray cluster at {address} needs its authentication token and none was found: {FIX}"
    if not isinstance(exc, ConnectionError):
        return None
    # the address answered (checked before), so a refused connection is most often the token
    source = token_source() if os.environ.get(MODE_ENV, "").lower() == "token" else None
    if source is not None:
        return (
            f"the Ray cluster at {address} refused the token from {source} "
            f"(or runs another Ray version): {FIX}"
        )
    return (
        f"the Ray cluster at {address} refused this client, which has no Ray token (a cluster that "
        f"`ray start` started where ~/.ray/auth_token exists asks for one): {FIX}"
    )


REFUSED = ("InvalidAuthToken", "Failed to get cluster ID from GCS")
"""Ray's C++ log lines while a refused client retries (one a second for about 20 s)."""


@contextlib.contextmanager
def refusals_hidden() -> Iterator[None]:
    """Collect what is written to file descriptor 2 in the block (Ray's C++ core logs there,
    past Python's `sys.stderr`), then pass it on without the lines of refused retries: a
    refused join then ends in the one `error:` line that says what to do."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().splitlines(keepends=True) if not _refused(line)]
            data = b"".join(kept)
            while data:
                data = data[os.write(2, data) :]


def _refused(line: bytes) -> bool:
    return any(marker.encode() in line for marker in REFUSED)
