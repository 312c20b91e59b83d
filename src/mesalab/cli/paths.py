"""Checks on the paths a user names for output, made before any work so a bad one costs nothing."""

from __future__ import annotations

from pathlib import Path

from mesalab.errors import MesalabError


def check_writable_dir(path: Path, option: str) -> None:
    """Refuse `path` as an output folder when it, or a folder above it, is a file."""
    if str(path).strip() == "":
        raise MesalabError(f"{option}: an empty path (allowed: a folder to create or reuse)")
    for part in [path, *path.parents]:
        if part.exists():
            if not part.is_dir():
                raise MesalabError(f"{option} {path}: {part} is a file, not a folder")
            return


def check_writable_file(path: Path, option: str) -> None:
    """Refuse `path` as an output file when it is a folder or its folder cannot hold it."""
    if str(path).strip() in ("", "."):
        raise MesalabError(f"{option}: an empty path (allowed: a file name)")
    if path.is_dir():
        raise MesalabError(f"{option} {path}: is a folder (allowed: a file name)")
    check_writable_dir(path.parent, option)
