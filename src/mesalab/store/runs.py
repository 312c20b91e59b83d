"""Run folders: one per run, never overwritten, written atomically.

Layout of a run folder `runs/{experiment}-{YYYYmmdd-HHMMSS}-{config hash}[-n]/`:
`config.json` (the config, the experiment, package and schema versions), `metrics.jsonl`,
model files, `results.json` (written last, atomically: its presence marks a finished
run) and `report.html`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, TypeVar

from mesalab import __version__
from mesalab.config import Config
from mesalab.errors import MesalabError

C = TypeVar("C", bound=Config)

SCHEMA_VERSION = 1
"""Version of the run-folder layout and JSON records."""

DEFAULT_ROOT = Path("runs")


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write via a temporary file in the same folder, fsync and rename, so readers never see
    half a file; the file gets the permissions a plain `open` would (0o666 less the umask)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), 0o666 & ~_umask())  # mkstemp made it 0600
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    """`write_bytes_atomic` of UTF-8 text."""
    write_bytes_atomic(path, text.encode("utf-8"))


def _umask() -> int:
    """The process umask, read without changing it where Linux shows it (`os.umask` can
    only be read by setting it, which would race with other threads creating files)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


RECORD_FILES = frozenset({"results.json", "sweep.json", "audit.json", "config.json"})
"""Records that carry `schema_version`: written with it (first) when the writer left it out."""


def write_json_atomic(path: Path, data: Any) -> None:
    if path.name in RECORD_FILES and isinstance(data, dict) and "schema_version" not in data:
        data = {"schema_version": SCHEMA_VERSION, **data}
    text = json.dumps(finite(data), indent=2, sort_keys=False, default=_json_default, allow_nan=False)
    write_text_atomic(path, text + "\n")


def finite(value: Any) -> Any:
    """`value` with every NaN or infinite float as `None` (JSON `null`): strict JSON readers
    refuse the bare `NaN` and `Infinity` that Python's json writes by default."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, str):
        return finite(value.tolist())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return finite(_json_default(value))
    return value


def read_json(path: Path) -> Any:
    """A JSON file; a record newer than this mesalab reads is refused (see `check_schema`)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MesalabError(f"{path}: no such file") from None
    except json.JSONDecodeError as exc:
        raise MesalabError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if isinstance(data, dict):
        check_schema(data, path)
    return data


def check_schema(record: dict[str, Any], path: Path | str) -> int:
    """The record's `schema_version` (1 when absent: files from before it was written);
    `MesalabError` when it is newer than `SCHEMA_VERSION` or not an integer."""
    version = record.get("schema_version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise MesalabError(f"{path}: schema_version {version!r} is not a positive integer")
    if version > SCHEMA_VERSION:
        raise MesalabError(
            f"{path}: schema_version {version} is newer than this mesalab {__version__} reads "
            f"({SCHEMA_VERSION}); upgrade mesalab to read it"
        )
    return version


def _json_default(value: Any) -> Any:
    if isinstance(value, Config):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def create_run_dir(
    experiment: str, config: Config, root: Path | None = None, name: str | None = None
) -> Path:
    """Make a new run folder and write `config.json` into it; never reuse a finished one.

    With `name`, the folder is `root/name`; if that already holds anything, a suffix
    `-2`, `-3`, ... gives a new one instead: a run is never written over another.
    """
    root = Path(root) if root is not None else DEFAULT_ROOT
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = name or f"{experiment}-{stamp}-{config.stable_hash(6)}"
    path = root / base
    suffix = 2
    root.mkdir(parents=True, exist_ok=True)
    while True:
        try:
            path.mkdir()  # atomic: two runs starting at once cannot both take one folder
            break
        except FileExistsError:
            if path.is_dir() and not any(path.iterdir()):
                break
            path = root / f"{base}-{suffix}"
            suffix += 1
    write_json_atomic(
        path / "config.json",
        {
            "experiment": experiment,
            "config": config.to_dict(),
            "config_hash": config.stable_hash(),
            "threads": _torch_threads(),  # beside the config, not in its hash: see README, determinism
            "mesalab_version": __version__,
            "schema_version": SCHEMA_VERSION,
            "created": dt.datetime.now().isoformat(timespec="seconds"),
        },
    )
    return path


def open_run(experiment: str, config: C, root: Path, resume: Path | None) -> tuple[C, Path]:
    """`(config, run folder)`: a new folder for `config`, or the folder `resume` with the config
    it was started with (a resumed run never takes a new one: its results would mix two)."""
    if resume is None:
        return config, create_run_dir(experiment, config, root)
    return type(config).from_dict(read_json(resume / "config.json")["config"]), resume


def _torch_threads() -> int | None:
    """Torch's intra-op thread count: results are bit-equal at one count, not across counts."""
    import sys

    torch = sys.modules.get("torch")  # not imported for it: a run that has no torch has no count
    return int(torch.get_num_threads()) if torch is not None else None


@dataclasses.dataclass(frozen=True)
class RunRecord:
    """What the index knows of one run folder."""

    path: Path
    experiment: str
    created: str
    finished: bool
    config_hash: str

    @property
    def name(self) -> str:
        return self.path.name


def list_runs(root: Path | None = None) -> list[RunRecord]:
    """Every run folder under `root` (recursively), oldest first."""
    root = Path(root) if root is not None else DEFAULT_ROOT
    records = []
    for config_path in sorted(root.rglob("config.json")):
        try:
            meta = json.loads(config_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if not isinstance(meta, dict) or "experiment" not in meta:
            continue
        folder = config_path.parent
        records.append(
            RunRecord(
                path=folder,
                experiment=str(meta["experiment"]),
                created=str(meta.get("created", "")),
                finished=(folder / "results.json").exists(),
                config_hash=str(meta.get("config_hash", "")),
            )
        )
    return sorted(records, key=lambda r: (r.created, str(r.path)))


def find_run(name_or_path: str, root: Path | None = None) -> Path:
    """A run folder by path, or by folder name (or unique prefix) under `root`."""
    direct = Path(name_or_path)
    if (direct / "config.json").exists():
        return direct
    runs = list_runs(root)
    exact = [r.path for r in runs if r.name == name_or_path]
    matches = exact or [r.path for r in runs if r.name.startswith(name_or_path)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise MesalabError(
            f"run {name_or_path!r} not found under {root or DEFAULT_ROOT} (see `mesalab runs`)"
        )
    raise MesalabError(f"run {name_or_path!r} is ambiguous: {', '.join(p.name for p in matches[:5])}")
