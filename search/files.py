"""Files and folders replaced so that readers see the old one or the new one, never half of one;
where the caches that belong to no index live; and where pip put the compiled libraries."""

from __future__ import annotations

import glob
import mmap
import os
import re
import shutil
import sqlite3
import threading
from contextlib import closing
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np


def replace_path(path: Path, build: Callable[[Path], object]) -> None:
    """Let ``build`` write a temporary file (or folder) beside ``path``, then rename it into place."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    remove_path(tmp)
    try:
        build(tmp)
        if tmp.is_dir():
            remove_path(path)  # a folder cannot be renamed over another
        os.replace(tmp, path)
    finally:
        remove_path(tmp)


def remove_path(path: Path) -> None:
    """Remove a file or a folder, whichever is there (nothing if neither is)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def cache_folder() -> Path:
    """Where caches that belong to no index live (XDG's cache folder): they are derived from
    the installed packages and dictionary, and rebuilt when missing or stale."""
    return _cache_folder(os.environ.get("XDG_CACHE_HOME"), os.environ.get("HOME"))


@lru_cache(maxsize=8)
def _cache_folder(xdg: str | None, home: str | None) -> Path:
    """Made once per setting: a query asks for it with each word whose lemmas it reads (15 µs)."""
    return Path(xdg or Path(home or Path.home()) / ".cache") / "search"


MAPPED_BYTES = 1 << 30
"""How much of an SQLite file a reader maps (``PRAGMA mmap_size``): pages are read from the
system's cache in place, not copied by a system call each (a fresh process's look-ups of words
took 7.7 µs instead of 9-13)."""


class MachineCache:
    """One table of derived values (text key -> value) in an SQLite file of the machine's cache
    folder: what one process derives, every later one reads, whichever index or query it serves.

    Read through one connection kept open (opening one cost a query 0.2-0.4 ms), one thread at
    a time; written in batches. A missing, read-only or full cache folder only costs deriving the
    values again, and a damaged file is started afresh.
    """

    def __init__(self, path: Path, table: str = "entries", columns: tuple[str, str] = ("key", "value")) -> None:
        self.path = path
        key, value = columns
        self._create = f"CREATE TABLE IF NOT EXISTS {table} ({key} TEXT PRIMARY KEY, {value} BLOB)"
        self._select = f"SELECT {key}, {value} FROM {table} WHERE {key} IN "
        self._insert = f"INSERT OR REPLACE INTO {table} VALUES (?, ?)"
        self._reader: sqlite3.Connection | None = None
        self._reading = threading.Lock()

    def read(self, keys: Sequence[str]) -> dict[str, Any]:
        """The values the cache has of these keys."""
        found: dict[str, Any] = {}
        with self._reading:
            if self._reader is None and not self.path.exists():  # not yet written: nothing to open
                return found
            try:
                if self._reader is None:
                    self._reader = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True,
                                                   check_same_thread=False)
                    self._reader.execute(f"PRAGMA mmap_size = {MAPPED_BYTES}")
                for i in range(0, len(keys), 500):
                    chunk = keys[i:i + 500]
                    found.update(self._reader.execute(f"{self._select}({','.join('?' * len(chunk))})", chunk))
            except sqlite3.Error as error:  # no cache yet, or an unreadable one: the values are derived
                self._reader, reader = None, self._reader
                if reader is not None:
                    reader.close()
                self._discard_if_damaged(error)
        return found

    def write(self, items: Iterable[tuple[str, Any]]) -> None:
        """Keep these values (a later reader sees them)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with closing(sqlite3.connect(self.path, timeout=30)) as db, db:
                db.execute(self._create)
                db.executemany(self._insert, items)
        except sqlite3.Error as error:
            self._discard_if_damaged(error)
        except OSError:
            pass

    def _discard_if_damaged(self, error: sqlite3.Error) -> None:
        """Remove a file that is not an SQLite database, or a damaged one (SQLite raises plain
        DatabaseError for both; a busy or read-only one raises its subclasses): the next write
        starts it afresh."""
        if type(error) is sqlite3.DatabaseError:
            self.path.unlink(missing_ok=True)


def mapped(path: Path) -> np.ndarray:
    """An ``.npy`` array, memory-mapped (pages are read as they are used) and never unpickled.

    A plain ndarray over the mapping: indexing a numpy.memmap makes a memmap object each time,
    which cost 110 µs a row when a query looked up its words' vectors. The header ``np.save``
    writes is read here with one pattern; numpy's own reader (``np.load``) parses it as Python:
    0.10 ms a file against 0.07 alone, and 0.3-0.5 ms beside a first query's loading thread, which
    maps some 90 files. Any other header goes to numpy's reader.
    """
    with open(path, "rb") as file:
        head = file.read(_HEAD)
        found = _NPY.match(head)
        if found is None:
            return np.load(path, mmap_mode="r", allow_pickle=False).view(np.ndarray)
        dtype = np.dtype(found["descr"].decode("ascii"))
        shape = tuple(int(size) for size in found["shape"].split(b",") if size.strip())
        offset = found.end()
        if dtype.hasobject or not head[offset - 1:offset] == b"\n":
            raise ValueError(f"{path.name}: not an array of plain values")
        count = int(np.prod(shape, dtype=np.int64))
        if offset + count * dtype.itemsize > os.fstat(file.fileno()).st_size:
            raise ValueError(f"{path.name}: shorter than its header says")
        if not count:  # nothing to map
            empty = np.zeros(shape, dtype)
            empty.flags.writeable = False
            return empty
        mapping = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
    return np.frombuffer(mapping, dtype, count, offset).reshape(shape)


_HEAD = 4096
_NPY = re.compile(rb"\x93NUMPY\x01\x00..\{'descr': '(?P<descr>[<>|=]?[a-zA-Z]\d*)', 'fortran_order': False, "
                  rb"'shape': \((?P<shape>[\d, ]*)\), \} *\n", re.DOTALL)
"""The header ``np.save`` writes (format 1.0) for an array of plain values in C order."""


def is_mapped(array: np.ndarray) -> bool:
    """Whether an array is a view of a memory-mapped file (``mapped``)."""
    return _mapping(array) is not None


def release(array: np.ndarray) -> None:
    """Drop the pages of a mapped array from this process (not from the system's file cache):
    a query that reads a few rows of a large file need not keep them resident."""
    handle = _mapping(array)
    if handle is not None and len(handle):
        handle.madvise(mmap.MADV_DONTNEED)


def _mapping(array: np.ndarray) -> mmap.mmap | None:
    base: object = array
    while base is not None:
        if isinstance(base, mmap.mmap):
            return base
        if isinstance(base, np.memmap):
            return getattr(base, "_mmap", None)
        base = base.obj if isinstance(base, memoryview) else getattr(base, "base", None)
    return None


def compiled(module: str, name: str) -> str | None:
    """The C library pip built beside a module (``setup.py``: ``name`` and the platform's suffix),
    if it was built: the compiled parts are optional."""
    found = sorted(glob.glob(os.path.join(os.path.dirname(os.path.abspath(module)), f"{name}*.so")))
    return found[0] if found else None


def compiled_library(path: str | None, version_function: str, version: int) -> Any:
    """The C library at ``path`` (``compiled``'s), loaded with ctypes, if its ``version_function``
    gives ``version``; else None. A checkout updated without ``pip install -e .`` keeps a library
    built from an older source, whose functions take other arguments: it is never called."""
    if path is None:
        return None
    import ctypes  # only where a compiled part is used

    try:
        library = ctypes.CDLL(path)
        check = getattr(library, version_function)
        check.restype = ctypes.c_int64
        return library if check() == version else None
    except (OSError, AttributeError):
        return None
