"""Files and folders replaced so that readers see the old one or the new one, never half of one;
where the caches that belong to no index live; and where pip put the compiled libraries."""

from __future__ import annotations

import glob
import mmap
import os
import shutil
from pathlib import Path
from typing import Callable

import numpy as np


def replace_path(path: Path, build: Callable[[Path], object]) -> None:
    """Let ``build`` write a temporary file (or folder) beside ``path``, then rename it into place."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    _remove(tmp)
    try:
        build(tmp)
        if tmp.is_dir():
            _remove(path)  # a folder cannot be renamed over another
        os.replace(tmp, path)
    finally:
        _remove(tmp)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def cache_folder() -> Path:
    """Where caches that belong to no index live (XDG's cache folder): they are derived from
    the installed packages and dictionary, and rebuilt when missing or stale."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "search"


def mapped(path: Path) -> np.ndarray:
    """An ``.npy`` array, memory-mapped (pages are read as they are used) and never unpickled.

    A plain ndarray view of the mapping: indexing a numpy.memmap makes a memmap object
    each time, which cost 110 µs a row when a query looked up its words' vectors.
    """
    return np.load(path, mmap_mode="r", allow_pickle=False).view(np.ndarray)


def release(array: np.ndarray) -> None:
    """Drop the pages of a mapped array from this process (not from the system's file cache):
    a query that reads a few rows of a large file need not keep them resident."""
    base = array.base
    while base is not None and not isinstance(base, np.memmap):
        base = getattr(base, "base", None)
    handle = getattr(base, "_mmap", None)
    if handle is not None and len(handle):
        handle.madvise(mmap.MADV_DONTNEED)


def compiled(module: str, name: str) -> str | None:
    """The C library pip built beside a module (``setup.py``: ``name`` and the platform's suffix),
    if it was built: the compiled parts are optional."""
    found = sorted(glob.glob(os.path.join(os.path.dirname(os.path.abspath(module)), f"{name}*.so")))
    return found[0] if found else None
