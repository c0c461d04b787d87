"""Whether the files of an index are still the ones that were written.

Whoosh's files carry no checksums: a truncated or overwritten postings file
reads as fewer hits, or as an error deep inside whoosh. So whoever writes a
group of files (a segment, a segment's vectors, a vocabulary) records each
one's size, CRC-32 and modification time in a manifest beside them (``seal``),
and readers check them before use (``damaged``). A file whose size and
modification time are as recorded is trusted without reading it, as make and
rsync do; only a file rewritten or copied since (a new time) is read in full
and its CRC compared, so opening an index costs a few ``stat`` calls.
"""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from ..files import mapped, remove_path, replace_path

MANIFEST = "checksums.json"
"""The manifest's name inside a folder of files (vectors, vocabulary)."""
_CHUNK = 1 << 20


def seal(files: Iterable[Path], manifest: Path) -> None:
    """Record the files (beside ``manifest``, in its folder) in it, atomically."""
    records = {}
    for path in files:
        status = path.stat()
        records[path.name] = [status.st_size, _crc(path), status.st_mtime_ns]
    replace_path(manifest, lambda tmp: tmp.write_text(json.dumps(records, sort_keys=True), encoding="utf-8"))


def seal_folder(folder: Path) -> None:
    """Record every file of a folder in the manifest inside it."""
    seal(sorted(folder.iterdir()), folder / MANIFEST)


def sealed_arrays(folder: Path, build: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Named arrays kept in a sealed folder (one ``.npy`` each), memory-mapped; ``build`` makes them
    when the folder is missing or damaged, and they are used from memory where it cannot be written
    (a read-only cache costs the build each time, never a result).

    Several processes may find the folder missing at once (an indexing run's workers on a new
    machine): each builds, and the first to finish puts its folder in place (``_install``)."""
    if folder_damaged(folder) is not None:
        built = build()
        try:
            folder.parent.mkdir(parents=True, exist_ok=True)
            _install(folder, built)
        except OSError:
            return built
    return {path.stem: mapped(path) for path in sorted(folder.glob("*.npy"))}


def _install(folder: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write the arrays into a folder of this process's own and rename it into place. A sound
    folder another process put there meanwhile is kept: removing it, as replacing it did, took
    its files away from processes reading it (in 18 of 40 trials of four processes starting at
    once, one of them failed). A damaged one is renamed aside first, then removed."""
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
    remove_path(tmp)
    try:
        _write_arrays(tmp, arrays)
        for attempt in range(3):
            try:
                os.rename(tmp, folder)  # not over a folder with files in it
                return
            except OSError:
                if folder_damaged(folder) is None:
                    return  # another process's, sound: read that one
                if attempt == 2:
                    raise
            aside = folder.with_name(f".{folder.name}.{os.getpid()}.damaged")
            remove_path(aside)
            try:
                os.rename(folder, aside)
            except FileNotFoundError:  # another process moved it aside first
                pass
            remove_path(aside)
    finally:
        remove_path(tmp)


def _write_arrays(folder: Path, arrays: dict[str, np.ndarray]) -> None:
    folder.mkdir()
    for name, array in arrays.items():
        np.save(folder / f"{name}.npy", array, allow_pickle=False)
    seal_folder(folder)


def folder_damaged(folder: Path) -> str | None:
    """``damaged`` for a folder sealed by ``seal_folder``."""
    return damaged(folder / MANIFEST)


def damaged(manifest: Path) -> str | None:
    """The name of the first file that is missing or differs from its record (or the manifest's own
    name when it is missing or unreadable); None when every file is as written."""
    try:
        records = json.loads(manifest.read_text(encoding="utf-8"))
        if not isinstance(records, dict) or not records:
            raise ValueError("no records")
        for name, (size, crc, mtime) in records.items():
            path = manifest.with_name(name)
            try:
                status = os.stat(path)
            except OSError:
                return name
            if status.st_size != size or (status.st_mtime_ns != mtime and _crc(path) != crc):
                return name
    except (OSError, ValueError, TypeError):
        return manifest.name
    return None


def _crc(path: Path) -> int:
    crc = 0
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK):
            crc = zlib.crc32(chunk, crc)
    return crc
