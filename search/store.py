"""The on-disk index: a whoosh index plus caches derived from it.

One writer at a time: the whoosh lock is taken with a timeout and a busy index
is reported as IndexBusy, never as a LockError. Readers see the last commit,
so queries keep answering while an indexing run is in progress, and a run that
is killed leaves the last commit intact.
"""

from __future__ import annotations

import os
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from .analysis import FieldAnalyzer
from .errors import IndexBusy, IndexCorrupt, IndexMissing

warnings.filterwarnings("ignore", category=SyntaxWarning, module=r"whoosh(\.|$)")

from whoosh import fields, index  # noqa: E402  (after the warning filter)
from whoosh.index import LockError  # noqa: E402
from whoosh.searching import Searcher  # noqa: E402
from whoosh.writing import IndexWriter  # noqa: E402

INDEX_NAME = "passages"
LOCK_TIMEOUT = 30.0
"""Seconds a writer waits for another writer to finish."""

PASSAGE, FILE = "passage", "file"
"""The two kinds of record: passages, and one record per indexed file (for syncing)."""


def schema() -> fields.Schema:
    """Passage records carry the text fields; file records carry size, mtime and hash."""
    return fields.Schema(
        id=fields.ID(unique=True, stored=True),
        kind=fields.ID(),
        key=fields.ID(stored=True),
        doc=fields.STORED(),
        passage=fields.STORED(),
        start=fields.STORED(),
        end=fields.STORED(),
        lang=fields.ID(stored=True),
        text=fields.STORED(),
        vector=fields.STORED(),
        stamp=fields.STORED(),
        body=fields.TEXT(analyzer=FieldAnalyzer("body"), phrase=False),
        exact=fields.TEXT(analyzer=FieldAnalyzer("exact"), phrase=True),
        names=fields.TEXT(analyzer=FieldAnalyzer("names"), phrase=False),
    )


def default_location() -> str:
    """``$SEARCH_INDEX``, or ``index/`` in the current directory."""
    return os.environ.get("SEARCH_INDEX") or "index"


class Store:
    """An index folder: the whoosh index and the caches kept beside it."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._searcher: Searcher | None = None

    def exists(self) -> bool:
        return self.path.is_dir() and index.exists_in(str(self.path), indexname=INDEX_NAME)

    def _open(self) -> index.Index:
        if not self.exists():
            raise IndexMissing(f"no index at {self.path} (build one with: search index PATH --index {self.path})")
        try:
            return index.open_dir(str(self.path), indexname=INDEX_NAME)
        except Exception as error:  # whoosh raises many kinds for unreadable files
            raise IndexCorrupt(f"cannot read the index at {self.path}: {error}") from error

    def create(self) -> None:
        """Make an empty index here, unless there is one already."""
        if self.exists():
            return
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            index.create_in(str(self.path), schema(), indexname=INDEX_NAME)
        except OSError as error:
            raise IndexMissing(f"cannot create an index at {self.path}: {error.strerror}") from error

    @contextmanager
    def searcher(self) -> Iterator[Searcher]:
        """A searcher over the last commit, kept open between queries (opening one costs
        more than many queries), and refreshed when another process has committed since."""
        if self._searcher is None:
            self._searcher = self._open().searcher()
        elif not self._searcher.up_to_date():
            self._searcher = self._searcher.refresh()
        yield self._searcher

    @contextmanager
    def writing(self, timeout: float = LOCK_TIMEOUT, clear: bool = False) -> Iterator["Writing"]:
        """The index's only writer: committed if anything changed, cancelled on any error.

        With ``clear``, the commit also drops everything committed before, so a
        rebuild replaces the old index atomically.
        """
        ix = self._open()
        try:
            writer = ix.writer(timeout=timeout, delay=0.1)
        except LockError as error:
            raise IndexBusy(f"the index at {self.path} is being written by another process; "
                            f"gave up after {timeout:g} s") from error
        writing = Writing(writer, changed=clear)
        try:
            yield writing
        except BaseException:
            writer.cancel()
            raise
        if writing.changed:
            writer.commit(mergetype=_clear if clear else None)
        else:
            writer.cancel()

    def generation(self) -> int:
        return self._open().latest_generation()

    def cache_path(self, name: str) -> Path:
        return self.path / name


@dataclass
class Writing:
    """An open writer, and whether anything was written (nothing to commit otherwise)."""

    writer: IndexWriter
    changed: bool = False


def _clear(writer: IndexWriter, segments: list) -> list:
    """A whoosh merge policy that drops every existing segment (--rebuild)."""
    return []
