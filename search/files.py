"""Files and folders replaced so that readers see the old one or the new one, never half of one;
where the caches that belong to no index live; and where pip put the compiled libraries."""

from __future__ import annotations

import bisect
import glob
import hashlib
import mmap
import os
import re
import shutil
import sqlite3
import threading
from contextlib import closing
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

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


class FrozenTable:
    """Text keys and their values (text, or bytes) laid out in one mapped ``.npy`` of bytes: their count, each key's
    64-bit hash (ascending), where each entry starts, then the entries (key, NUL, value). A
    look-up is a hash and a binary search, 3 µs, where SQLite's took 10-45 in a query (its pages
    copied and parsed); a query looks up some 50 words' lemmas. Read-only: ``layout`` writes one."""

    def __init__(self, data: np.ndarray) -> None:
        view = memoryview(data).cast("B")
        count = int.from_bytes(view[:8], "little")
        hashes_end, offsets_end = 8 + 8 * count, 8 + 16 * count + 8
        if offsets_end > len(view):
            raise ValueError("a frozen table shorter than its count says")
        self._hashes = view[8:hashes_end].cast("Q")
        self._offsets = view[hashes_end:offsets_end].cast("Q")
        self._entries = view[offsets_end:]
        if self._offsets[count] != len(self._entries):
            raise ValueError("a frozen table whose entries do not end where its offsets say")
        self.count = count

    def get(self, key: str) -> str | None:
        """The key's value, or None where the table has none (or a damaged entry for it)."""
        found = self.get_bytes(key)
        try:
            return None if found is None else found.decode("utf-8")
        except UnicodeDecodeError:
            return None

    def get_bytes(self, key: str) -> bytes | None:
        """The key's value as laid out (text as UTF-8), or None where the table has none."""
        encoded = key.encode("utf-8")
        wanted = digest64(encoded)
        return self._entry(encoded, wanted, bisect.bisect_left(self._hashes, wanted))

    def get_many(self, keys: Sequence[str], text: bool = True) -> list[Any]:
        """Each key's value (``get``; as laid out where not ``text``), their binary searches made
        together: highlighting asks for a query's hits' new words at once."""
        encoded = [key.encode("utf-8") for key in keys]
        wanted = [digest64(key) for key in encoded]
        hashes = np.frombuffer(self._hashes, dtype="<u8")
        found: list[Any] = []
        for key, hash_, at in zip(encoded, wanted, np.searchsorted(hashes, np.array(wanted, dtype=np.uint64)).tolist()):
            value = self._entry(key, hash_, at)
            try:
                found.append(value.decode("utf-8") if text and value is not None else value)
            except UnicodeDecodeError:
                found.append(None)
        return found

    def _entry(self, encoded: bytes, wanted: int, at: int) -> bytes | None:
        """The value of the key ``encoded`` (its hash ``wanted``, the first hash not below it at ``at``)."""
        while at < self.count and self._hashes[at] == wanted:  # equal hashes: the keys tell
            entry = self._entries[self._offsets[at]:self._offsets[at + 1]]
            if entry[:len(encoded)] == encoded and len(entry) > len(encoded) and entry[len(encoded)] == 0:
                return bytes(entry[len(encoded) + 1:])
            at += 1
        return None

    @staticmethod
    def layout(items: Iterable[tuple[str, str | bytes]]) -> np.ndarray:
        """The array of these (key, value) pairs, values text or bytes (keys with a NUL are left out)."""
        return np.frombuffer(b"".join(FrozenTable._parts(FrozenTable._sorted(items))), dtype=np.uint8)

    @staticmethod
    def write(path: Path, items: Iterable[tuple[str, str | bytes]]) -> None:
        """Lay these pairs out (``layout``) into a file, replaced atomically: written part by part, so
        that a table of 100 MB (the machine's word vectors) is not also copied in memory three or four
        times."""
        entries = FrozenTable._sorted(items)
        size = 8 + 16 * len(entries) + 8 + sum(len(key) + 1 + len(value) for _, key, value in entries)

        def build(tmp: Path) -> None:
            with open(tmp, "wb") as file:
                np.lib.format.write_array_header_1_0(file, {"descr": "|u1", "fortran_order": False, "shape": (size,)})
                file.writelines(FrozenTable._parts(entries))

        replace_path(path, build)

    @staticmethod
    def _sorted(items: Iterable[tuple[str, str | bytes]]) -> list[tuple[int, bytes, bytes]]:
        """(hash, key, value) as bytes, by hash (keys with a NUL left out)."""
        return sorted((digest64(key), key, value if isinstance(value, bytes) else value.encode("utf-8"))
                      for key, value in ((key.encode("utf-8"), value) for key, value in items) if b"\x00" not in key)

    @staticmethod
    def _parts(entries: list[tuple[int, bytes, bytes]]) -> Iterator[bytes]:
        """The table's bytes in order: count, hashes, offsets, then each entry (key, NUL, value)."""
        offsets = np.zeros(len(entries) + 1, dtype="<u8")
        np.cumsum([len(key) + 1 + len(value) for _, key, value in entries], out=offsets[1:])
        yield np.array([len(entries)], dtype="<u8").tobytes()
        yield np.array([h for h, _, _ in entries], dtype="<u8").tobytes()
        yield offsets.tobytes()
        for _, key, value in entries:
            yield key + b"\x00" + value


def digest64(text: str | bytes) -> int:
    """A stable 64-bit hash of a text (its UTF-8) or bytes, the same in every process and release
    (Python's own ``hash`` of a str is salted per process): BLAKE2b's first 8 bytes, little-endian."""
    encoded = text.encode("utf-8") if isinstance(text, str) else text
    return int.from_bytes(hashlib.blake2b(encoded, digest_size=8).digest(), "little")


def frozen_at(path: Path) -> FrozenTable | None:
    """The frozen table in a file, or None where there is none or it is unreadable."""
    try:
        return FrozenTable(mapped(path))
    except (OSError, ValueError):
        return None


def read_only(path: Path, immutable: bool = False) -> sqlite3.Connection:
    """A connection that reads an SQLite file through a map of its pages (``MAPPED_BYTES``);
    ``immutable`` for a file only ever renamed into place, which SQLite then need not lock."""
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro{'&immutable=1' if immutable else ''}",
                                 uri=True, check_same_thread=False)
    try:
        connection.execute(f"PRAGMA mmap_size = {MAPPED_BYTES}")
    except sqlite3.Error:
        connection.close()
        raise
    return connection


FREEZE_AFTER = 2000
"""Rows a machine cache may hold beyond its frozen table before ``freeze`` lays it out again."""


class MachineCache:
    """One table of derived values (text key -> value) in an SQLite file of the machine's cache
    folder: what one process derives, every later one reads, whichever index or query it serves.

    Read through one connection kept open (opening one cost a query 0.2-0.4 ms), one thread at
    a time; written in batches. A missing, read-only or full cache folder only costs deriving the
    values again, and a damaged file is started afresh. A table of text values, or of bytes
    (``binary``), may be frozen (``freeze``) beside the file: reads look there first and ask SQLite
    for the rest only.
    """

    def __init__(self, path: Path, table: str = "entries", columns: tuple[str, str] = ("key", "value"),
                 binary: bool = False) -> None:
        self.path = path
        self.frozen_path = path.with_name(path.name + ".frozen.npy")
        key, value = columns
        self._binary = binary
        self._create = f"CREATE TABLE IF NOT EXISTS {table} ({key} TEXT PRIMARY KEY, {value} BLOB)"
        self._select = f"SELECT {key}, {value} FROM {table} WHERE {key} IN "
        self._every = (f"SELECT {key}, {value} FROM {table} "
                       f"WHERE typeof({value}) = '{'blob' if binary else 'text'}'")
        self._count = f"SELECT count(*) FROM {table}"
        self._insert = f"INSERT OR REPLACE INTO {table} VALUES (?, ?)"
        self._reader: sqlite3.Connection | None = None
        self._frozen: FrozenTable | None | bool = False  # False: not yet opened
        self._reading = threading.Lock()

    def read(self, keys: Sequence[str]) -> dict[str, Any]:
        """The values the cache has of these keys."""
        found: dict[str, Any] = {}
        frozen = self._open_frozen()
        if frozen is not None:
            found.update((key, value) for key, value in zip(keys, frozen.get_many(keys, text=not self._binary))
                         if value is not None)
            keys = [key for key in keys if key not in found]
        if keys:
            found.update(self._stored(keys))
        return found

    def get(self, key: str) -> Any:
        """One key's value, or None (``read`` for one key, without its dict and list)."""
        frozen = self._open_frozen()
        value = None if frozen is None else frozen.get_bytes(key) if self._binary else frozen.get(key)
        return value if value is not None else self._stored([key]).get(key)

    def _stored(self, keys: Sequence[str]) -> dict[str, Any]:
        """The values SQLite has of these keys. The frozen table is read without the lock (it is
        mapped and only read); the connection, one thread at a time."""
        found: dict[str, Any] = {}
        with self._reading:
            if self._reader is None and not self.path.exists():  # not yet written: nothing to open
                return found
            try:
                if self._reader is None:
                    self._reader = read_only(self.path)
                for i in range(0, len(keys), 500):
                    chunk = keys[i:i + 500]
                    found.update(self._reader.execute(f"{self._select}({','.join('?' * len(chunk))})", chunk))
            except sqlite3.Error as error:  # no cache yet, or an unreadable one: the values are derived
                self._reader, reader = None, self._reader
                if reader is not None:
                    reader.close()
                self._discard_if_damaged(error)
        return found

    def _open_frozen(self) -> FrozenTable | None:
        """The frozen table, mapped once a process; None where there is none or it is unreadable."""
        if self._frozen is False:
            self._frozen = frozen_at(self.frozen_path)
        return self._frozen  # type: ignore[return-value]

    def freeze(self) -> None:
        """Lay the table's values out as a frozen table beside it, if it has FREEZE_AFTER rows
        or more beyond the frozen table there (a stale one only sends more reads to SQLite)."""
        try:
            with closing(read_only(self.path)) as db:
                frozen = frozen_at(self.frozen_path)
                if frozen is not None and db.execute(self._count).fetchone()[0] - frozen.count < FREEZE_AFTER:
                    return
                FrozenTable.write(self.frozen_path, db.execute(self._every))
        except (sqlite3.Error, OSError):
            pass  # no table yet, or a read-only folder: reads go to SQLite

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
