"""Replacing a cache file so that readers see the old file or the new one, never half of one."""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO, Callable


def replace_path(path: Path, build: Callable[[Path], object]) -> None:
    """Let ``build`` write a temporary file beside ``path``, then rename it into place."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        build(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def replace_file(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write into a temporary file beside ``path``, then rename it into place."""

    def build(tmp: Path) -> None:
        with open(tmp, "wb") as out:
            write(out)

    replace_path(path, build)
