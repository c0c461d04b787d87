"""The on-disk index: whoosh's files and the vector files beside them, one writer at a time.

A commit is whoosh's table of contents (TOC): the schema and the list of
segments, written to a temporary file and renamed into place. Readers open
the newest TOC and see that commit until they refresh, so queries answer while
an indexing run is in progress, and a run that is killed leaves the last commit
intact. The writer takes whoosh's lock with a timeout (a busy index is
IndexBusy, never a LockError), keeps it for the whole run and commits whenever
asked: a long build keeps what it committed.
"""

from __future__ import annotations

import json
import mmap
import os
import re
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import IndexBusy, IndexCorrupt, IndexMissing
from .schema import FILE, FORMAT, INDEX_NAME, KEY, KIND, schema

warnings.filterwarnings("ignore", category=SyntaxWarning, module=r"whoosh(\.|$)")

import numpy as np  # noqa: E402
from whoosh import fields  # noqa: E402  (after the warning filter)
from whoosh.codec.whoosh3 import W3Segment  # noqa: E402
from whoosh.filedb.filestore import FileStorage  # noqa: E402
from whoosh.filedb.structfile import StructFile  # noqa: E402
from whoosh.index import TOC  # noqa: E402
from whoosh.reading import SegmentReader  # noqa: E402
from whoosh.util.filelock import try_for  # noqa: E402

from . import checksums, pickles  # noqa: E402
from .codec import ArrayCodec, ArrayTermsReader  # noqa: E402

LOCK_TIMEOUT = 30.0
"""Seconds a writer waits for another writer to finish."""
MARKER = "search-index.json"
"""Names the folder's format: an index of another format must be rebuilt."""
VECTOR_FOLDERS = ("vectors", "deep", "words")
"""The folders of what is derived from each segment, holding a folder per segment: passage vectors, one
folder per encoder (``vectors.stored``), and passages' words (``wordsets``)."""
_TOC = re.compile(rf"^_{INDEX_NAME}_(\d+)\.toc$")
_SEGMENT_FILE = re.compile(rf"^({INDEX_NAME}_[0-9a-z]+)\.")
_LOCK = f"{INDEX_NAME}_WRITELOCK"


def default_location() -> str:
    """``$SEARCH_INDEX``, or ``index/`` in the current directory."""
    return os.environ.get("SEARCH_INDEX") or "index"


@dataclass(frozen=True)
class Commit:
    """What one TOC holds."""

    generation: int
    schema: fields.Schema
    segments: list[W3Segment]
    committed: float = 0.0
    """When it was committed (seconds since the epoch)."""


class _MappedFile(StructFile):
    """A file read through a memory map: ``get`` is a slice, not a seek and a read."""

    def __init__(self, mapped: mmap.mmap, name: str) -> None:
        super().__init__(mapped, name=name)
        self.is_real = False

    def get(self, position: int, length: int) -> bytes:
        return self.file[position:position + length]


MAPPED = (".trm", ".pst", ".col")
"""A segment's files read through a memory map: its term index, postings and columns (stored
fields among them). Written once, never changed."""


class _Storage(FileStorage):
    """whoosh's file storage, with a segment's files (``MAPPED``) read through a memory map.
    Looking a term up in its hash table reads a few bytes at a time, a seek and a read each: some
    1,500 system calls for a long headline's translations, 10 ms of the query; its postings and
    the stored fields of the passages it aligns and shows took some 90 more (1-2 ms)."""

    def open_file(self, name: str, **kwargs) -> StructFile:  # type: ignore[no-untyped-def, override]
        if name.endswith(MAPPED):
            with open(self._fpath(name), "rb") as file:
                try:
                    return _MappedFile(mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ), name)
                except ValueError:  # an empty file cannot be mapped
                    pass
        return super().open_file(name, **kwargs)


class Store:
    """An index folder."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.storage = _Storage(str(self.path))

    def exists(self) -> bool:
        return self.path.is_dir() and self.generation() >= 0

    def generation(self) -> int:
        """The newest committed generation, or -1 if there is none."""
        try:
            names = os.listdir(self.path)
        except OSError:
            return -1
        return max((int(m.group(1)) for m in map(_TOC.match, names) if m), default=-1)

    def create(self, replace: bool = False) -> None:
        """Make an empty index here, unless there is one already (of this format, or any with
        ``replace``: a rebuild writes over an index of another format, or a damaged one)."""
        if self.exists():
            if not replace:
                self.check_format()
            return
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self._mark()
            TOC(schema(), [], 0).write(self.storage, INDEX_NAME)
        except OSError as error:
            raise IndexMissing(f"cannot create an index at {self.path}: {error.strerror}") from error

    def _mark(self) -> None:
        (self.path / MARKER).write_text(json.dumps({"format": FORMAT}) + "\n", encoding="utf-8")

    def check_format(self) -> None:
        """Raise IndexCorrupt unless this folder holds an index of this version's format."""
        try:
            found = json.loads((self.path / MARKER).read_text(encoding="utf-8")).get("format")
        except (OSError, ValueError, AttributeError):
            raise IndexCorrupt(f"the index at {self.path} is damaged ({MARKER} is unreadable); "
                               f"rebuild it with --rebuild") from None
        if found != FORMAT:
            raise IndexCorrupt(f"the index at {self.path} was built by another version of search; "
                               f"rebuild it: search index PATH --index {self.path} --rebuild")

    def read(self, generation: int | None = None) -> Commit:
        """The newest commit (or the one given), read without running code (``pickles``)."""
        latest = generation is None
        if generation is None:
            generation = self.generation()
        if generation < 0:
            raise IndexMissing(f"no index at {self.path} (build one with: search index PATH --index {self.path})")
        self.check_format()
        toc = TOC._filename(INDEX_NAME, generation)
        try:
            committed = os.stat(self.path / toc).st_mtime
            with self.storage.open_file(toc) as stream:
                for _ in range(3):
                    stream.read_varint()  # the sizes of int, long and float
                if stream.read_int() != -12345:
                    raise ValueError("byte order")
                stream.read_int()  # TOC version
                for _ in range(3):
                    stream.read_varint()  # whoosh release
                found_schema = pickles.loads(stream.read_string())
                if stream.read_int() != generation:
                    raise ValueError("generation")
                stream.read_int()
                segments = stream.read_pickle()
        except pickles.Refused as error:
            raise IndexCorrupt(f"{self.path} is not a search index, or it was altered ({error}); "
                               f"rebuild it with --rebuild") from error
        except FileNotFoundError:
            if latest:
                return self.read()  # a writer committed and removed this TOC meanwhile
            raise IndexMissing(f"no generation {generation} in the index at {self.path}") from None
        except Exception as error:  # truncated or garbled: whoosh raises many kinds
            raise IndexCorrupt(f"cannot read the index at {self.path} ({type(error).__name__}); "
                               f"rebuild it with --rebuild") from error
        if not isinstance(found_schema, fields.Schema) or not isinstance(segments, list) or not all(
                isinstance(s, W3Segment) and isinstance(s.codec(), ArrayCodec) for s in segments):
            raise IndexCorrupt(f"{self.path} is not a search index of this format; rebuild it with --rebuild")
        for segment in segments:
            name = checksums.damaged(self.segment_manifest(segment))
            if name is not None:
                raise IndexCorrupt(f"the index at {self.path} is damaged ({name} is not as it was written); "
                                   f"rebuild it with --rebuild")
        return Commit(generation, found_schema, segments, committed)

    def segment_manifest(self, segment: W3Segment) -> Path:
        """Where a segment's files are recorded (``checksums``); removed with the segment."""
        return self.path / f"{segment.segment_id()}.{checksums.MANIFEST}"

    def writer(self, timeout: float = LOCK_TIMEOUT, clear: bool = False) -> "Writer":
        """The index's only writer; ``clear`` starts from no segments (a rebuild): over an index of
        another format or a damaged one too, whose files it then removes."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise IndexMissing(f"cannot create an index at {self.path}: {error.strerror}") from error
        lock = self.storage.lock(_LOCK)
        if not try_for(lock.acquire, timeout=timeout, delay=0.1):
            raise IndexBusy(f"the index at {self.path} is being written by another process; "
                            f"gave up after {timeout:g} s")
        try:
            self.create(replace=clear)  # under the lock: two first runs at once do not both create it
            try:
                commit = self.read()
            except IndexCorrupt:
                if not clear:
                    raise
                self._mark()
                commit = Commit(self.generation(), schema(), [])  # nothing of it is kept
            return Writer(self, lock, commit, clear)
        except BaseException:
            lock.release()
            raise

    def vectors_folder(self, name: str) -> Path:
        """Where one of VECTOR_FOLDERS is kept."""
        return self.path / name


class Writer:
    """Adds segments and deletes records, and commits them as one generation after another.

    Used as a context manager: the lock is held until it exits. Nothing is
    committed unless ``commit`` is called.
    """

    def __init__(self, store: Store, lock: object, commit: Commit, clear: bool) -> None:
        self.store, self._lock = store, lock
        self.schema = commit.schema
        for name, added in schema().items():  # a stored field added since the index was made (member)
            if name not in self.schema:
                self.schema.add(name, added)
        self.generation = commit.generation
        self.segments: list[W3Segment] = [] if clear else list(commit.segments)
        self.codec = ArrayCodec()
        self._readers: dict[str, SegmentReader] = {}
        self._pending = clear
        self._dropped = {s.segment_id() for s in commit.segments} if clear else set()
        """Segments the next commit no longer names, whose files it then removes."""
        shutil.rmtree(self._scratch, ignore_errors=True)  # what a killed run's segment writers left
        self._drop_files(lambda segment_id: segment_id not in {s.segment_id() for s in commit.segments})

    def __enter__(self) -> "Writer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def lock_descriptor(self) -> int | None:
        """The file descriptor holding the lock (forked workers must close their copy)."""
        return getattr(self._lock, "fd", None)

    @property
    def pending(self) -> bool:
        """Whether anything was added or deleted since the last commit."""
        return self._pending

    def add(self, segment: W3Segment) -> None:
        """A finished segment (from ``segments.SegmentBuilder``) joins the next commit, its files
        recorded first."""
        manifest = self.store.segment_manifest(segment)
        prefix = f"{segment.segment_id()}."
        checksums.seal(sorted(p for p in self.store.path.iterdir() if p.name.startswith(prefix) and p != manifest),
                       manifest)
        self.segments.append(segment)
        self._pending = True

    def delete(self, key: str, *, file_record_only: bool = False) -> int:
        """Delete the records of one file (or only its file record); returns how many."""
        deleted = 0
        for segment in self.segments:
            terms = self._reader(segment)._terms
            found = terms.postings(KEY, key.encode("utf-8"))
            if found is None:
                continue
            docnums = set(found.docnums.tolist())
            if file_record_only:
                files = terms.postings(KIND, FILE.encode("utf-8"))
                docnums &= set(files.docnums.tolist()) if files is not None else set()
            for docnum in docnums - set(segment.deleted_docs()):
                segment.delete_document(docnum)
                deleted += 1
        self._pending = self._pending or deleted > 0
        return deleted

    def live(self, segment: W3Segment, field: str, text: str) -> "np.ndarray":
        """The docnums (within the segment) of its live records that hold a term."""
        found = self._reader(segment)._terms.postings(field, text.encode("utf-8"))
        if found is None:
            return np.zeros(0, np.int64)
        docnums = found.docnums.astype(np.int64)
        deleted = np.fromiter(segment.deleted_docs(), np.int64)
        return docnums[~np.isin(docnums, deleted)] if len(deleted) else docnums

    def stored(self, segment: W3Segment, docnums: list[int]) -> list[dict]:
        """Records' stored fields (docnums within the segment, ascending)."""
        return self._reader(segment)._perdoc.stored_many(docnums)

    def terms(self) -> list[ArrayTermsReader]:
        """The term index of every segment."""
        return [self._reader(segment)._terms for segment in self.segments]

    def file_records(self) -> dict[str, dict]:
        """The stored file record of every indexed file, by key."""
        records: dict[str, dict] = {}
        for segment in self.segments:
            reader = self._reader(segment)
            files = reader._terms.postings(KIND, FILE.encode("utf-8"))
            if files is None:
                continue
            deleted = set(segment.deleted_docs())
            for docnum in files.docnums.tolist():
                if docnum not in deleted:
                    stored = reader.stored_fields(docnum)
                    records[stored[KEY]] = stored
        return records

    def commit(self) -> int:
        """Make everything added and deleted so far visible to readers, atomically."""
        self.generation += 1
        TOC(self.schema, self.segments, self.generation).write(self.store.storage, INDEX_NAME)
        self._pending = False
        for name in os.listdir(self.store.path):
            match = _TOC.match(name)
            if match and int(match.group(1)) < self.generation:
                self.store.storage.delete_file(name)
        dropped, self._dropped = self._dropped, set()
        self._drop_files(dropped.__contains__)
        return self.generation

    def close(self) -> None:
        for reader in self._readers.values():
            reader.close()
        self._readers.clear()
        shutil.rmtree(self._scratch, ignore_errors=True)
        self._lock.release()  # type: ignore[attr-defined]

    @property
    def _scratch(self) -> Path:
        """The folder whoosh's segment writers keep temporary files in."""
        return self.store.path / f"{INDEX_NAME}.tmp"

    def _reader(self, segment: W3Segment) -> SegmentReader:
        reader = self._readers.get(segment.segment_id())
        if reader is None:
            reader = self._readers[segment.segment_id()] = SegmentReader(
                self.store.storage, self.schema, segment)
        return reader

    def _drop_files(self, drop: Callable[[str], bool]) -> None:
        """Remove the files (and vectors) of the segments ``drop`` names.

        On opening, that is every segment the last commit does not name: files a
        killed run left behind (no other writer can be at work: we hold the lock).
        """
        for name in os.listdir(self.store.path):
            match = _SEGMENT_FILE.match(name)
            if match and drop(match.group(1)):
                self.store.storage.delete_file(name)
        for folder in map(self.store.vectors_folder, VECTOR_FOLDERS):
            if folder.is_dir():
                for entry in folder.iterdir():
                    if drop(entry.name.split(".", 1)[0]):
                        if entry.is_dir():
                            shutil.rmtree(entry, ignore_errors=True)
                        else:
                            entry.unlink(missing_ok=True)
