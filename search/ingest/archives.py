"""Archives -> their members' bytes, read from streams and never extracted to disk.

Reads .zip, .tar, .tar.gz/.tgz, .tar.bz2/.tbz2, .tar.xz/.txz and single .gz files. A member
that could exhaust memory (a zip bomb) is skipped with a note naming the limit: over
``MAX_MEMBER`` bytes uncompressed, or compressed more than ``MAX_RATIO`` times once past
``RATIO_FLOOR`` bytes. Both are checked against the sizes an archive declares and again while
its bytes are counted, since declared sizes can lie. Encrypted zip members are skipped with a
note. Zip names without the UTF-8 flag that read as Cyrillic in cp866 (DOS and Windows
archivers in Russia) are decoded so; zipfile reads them as cp437.
"""

from __future__ import annotations

import gzip
import lzma
import tarfile
import zipfile
import zlib
from typing import IO, Iterator

from .formats import Undecodable

MAX_MEMBER = 256 << 20
"""The most bytes a member may have uncompressed: it is held in memory while it is read."""
MAX_RATIO = 100
RATIO_FLOOR = 10 << 20
"""A member compressed more than MAX_RATIO times is skipped once it is past this size."""
CHUNK = 1 << 20

_TAR = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
SUFFIXES = (".zip", *_TAR, ".gz")
"""Longest first where one ends another (.tar.gz before .gz)."""

Members = Iterator[tuple[str, bytes]]



def kind(name: str) -> str | None:
    """The archive suffix a file name ends with, if any."""
    lower = name.lower()
    return next((suffix for suffix in (*_TAR, ".zip", ".gz") if lower.endswith(suffix)), None)


def members(name: str, stream: IO[bytes], size: int, notes: list[str]) -> Members:
    """(member path, bytes) of each file in the archive ``name`` of ``size`` bytes, in order;
    members skipped are described in ``notes``. Raises Undecodable when the archive cannot be read."""
    suffix = kind(name)
    try:
        if suffix == ".zip":
            yield from _zip(stream, notes)
        elif suffix == ".gz":
            inner = name[:-3].rsplit("/", 1)[-1] or "data"
            data = _bounded(gzip.GzipFile(fileobj=stream, mode="rb"), inner, size, notes)
            if data is not None:
                yield inner, data
        else:
            yield from _tar(stream, notes)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError,
            ValueError, NotImplementedError, KeyError, IndexError) as error:
        raise Undecodable(f"damaged archive ({type(error).__name__})") from None


def _zip(stream: IO[bytes], notes: list[str]) -> Members:
    with zipfile.ZipFile(stream) as archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            name = member_name(info)
            if info.flag_bits & 0x1:
                notes.append(f"{name}: encrypted member skipped (needs a password)")
                continue
            if _too_big(name, info.file_size, info.compress_size, notes):
                continue
            try:
                with archive.open(info) as member:
                    data = _bounded(member, name, info.compress_size, notes)
            except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError, OSError) as error:
                notes.append(f"{name}: damaged member skipped ({type(error).__name__})")
                continue
            if data is not None:
                yield name, data


def member_name(info: zipfile.ZipInfo) -> str:
    """A zip member's name: cp866 when it lacks the UTF-8 flag and reads as Cyrillic so."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        raw = info.filename.encode("cp437")
    except UnicodeEncodeError:
        return info.filename
    dos = raw.decode("cp866", errors="replace")
    if any("\u0400" <= c <= "\u04ff" for c in dos) and not any("\u0400" <= c <= "\u04ff" for c in info.filename):
        return dos
    return info.filename


class _Counted:
    """A file object that counts the compressed bytes read through it (a tar's ratio)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream, self.count = stream, 0

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.count += len(data)
        return data


def _tar(stream: IO[bytes], notes: list[str]) -> Members:
    counted = _Counted(stream)
    with tarfile.open(fileobj=counted, mode="r|*") as archive:  # type: ignore[call-overload]
        for info in archive:
            if not info.isfile():
                continue
            before = counted.count
            if _too_big(info.name, info.size, 0, notes, declared_only=True):  # a tar declares no packed sizes
                continue
            member = archive.extractfile(info)
            if member is None:
                continue
            data = _bounded(member, info.name, None, notes, counted=counted, start=before)
            if data is not None:
                yield info.name, data


def _too_big(name: str, size: int, compressed: int, notes: list[str], declared_only: bool = False) -> bool:
    """Whether declared sizes already exceed a limit (the note names it)."""
    if size > MAX_MEMBER:
        notes.append(f"{name}: skipped, {size:,} bytes uncompressed is over the limit of {MAX_MEMBER >> 20} MB")
        return True
    if not declared_only and size > RATIO_FLOOR and size > MAX_RATIO * max(1, compressed):
        notes.append(f"{name}: skipped, compressed {size // max(1, compressed):,} times is over the limit of "
                     f"{MAX_RATIO} beyond {RATIO_FLOOR >> 20} MB (a zip bomb?)")
        return True
    return False


def _bounded(stream: IO[bytes], name: str, compressed: int | None, notes: list[str],
             counted: _Counted | None = None, start: int = 0) -> bytes | None:
    """A member's bytes, read in chunks and counted: None (with a note) as soon as a limit is passed.
    ``compressed``: its compressed size, or None to take what ``counted`` saw pass since ``start``."""
    chunks, total = [], 0
    while chunk := stream.read(CHUNK):
        total += len(chunk)
        if total > MAX_MEMBER:
            notes.append(f"{name}: skipped, over the limit of {MAX_MEMBER >> 20} MB uncompressed")
            return None
        packed = compressed if compressed is not None else (counted.count - start if counted else total)
        if total > RATIO_FLOOR and total > MAX_RATIO * max(1, packed):
            notes.append(f"{name}: skipped, compressed over {MAX_RATIO} times beyond "
                         f"{RATIO_FLOOR >> 20} MB (a zip bomb?)")
            return None
        chunks.append(chunk)
    return b"".join(chunks)

