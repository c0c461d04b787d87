"""The Python API: open an index, keep it in sync with files, query it.

    from search import Index
    with Index("index") as ix:                 # Index.open("index") if it must exist
        ix.update(["seeds"])                   # -> Report
        for hit in ix.search("Rosoboronexport", lang="ru").hits:
            print(hit.rank, hit.score, hit.doc, hit.passage, hit.text)

The CLI is a thin layer over this module.
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, ContextManager, Self, Sequence

from .errors import IndexMissing, InputError
from .languages import LANGS
from .languages.lexicon import dictionary_available
from .ranking.fusion import RANKING, Ranking
from .searcher import Cross, Results, search
from .snapshot import Snapshot, Snapshots
from .storage.schema import FILE, KIND
from .storage.store import Store, default_location
from .workers import cluster as clusters

if TYPE_CHECKING:  # the indexer and its readers load with the first update: a query needs none of them
    from .indexer import Progress, Report, Warn

DEFAULT_SOURCES = ["seeds"]
"""What `search index` reads when given no path, and `search query` builds a missing index from."""


@dataclass(frozen=True)
class Stats:
    path: str
    documents: int
    passages: dict[str, int]
    vectors: int
    """Passages that have a vector; the rest are found by text only until `search index` runs again."""
    deep: int
    """Passages that have a deep (e5) vector; the others rank without it until `search index` runs again."""
    segments: int
    size_bytes: int
    last_update: str
    dictionary: bool

    def to_json(self) -> dict:
        return asdict(self)


class _Searched:
    """What an index and several searched as one share: their snapshots, and queries over them."""

    _snapshots: Snapshots

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the files of the snapshot queries were reading."""
        self._snapshots.close()

    def search(self, query: str, *, limit: int = 10, lang: str | None = None,
               cross: bool | Cross = True, context: int = 0) -> Results:
        """Ranked passages for a query; ``cross=False`` searches the literal query only,
        ``cross=Cross(names=False)`` leaves out one mechanism; ``context=N`` gives each hit the
        N passages before and after it in its document (``Hit.context``), like grep -C."""
        with self._snapshots.acquire() as snapshot:
            return search(snapshot, query, limit=limit, lang=lang, cross=cross,  # type: ignore[arg-type]
                          context=context)


class Index(_Searched):
    """An index folder, opened for searching and updating. Close it (or use ``with``) when done."""

    def __init__(self, path: str | os.PathLike[str] | None = None, ranking: Ranking = RANKING) -> None:
        self.store = Store(path if path is not None else default_location())
        self._snapshots = Snapshots(self.store, ranking)

    @staticmethod
    def union(paths: Sequence[str | os.PathLike[str]], ranking: Ranking = RANKING) -> "MultiIndex":
        """Several existing indexes searched as one (``MultiIndex``)."""
        return MultiIndex(paths, ranking)

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None, ranking: Ranking = RANKING) -> "Index":
        """Open an existing index; raises IndexMissing if there is none."""
        index = cls(path, ranking)
        if not index.store.exists():
            raise IndexMissing(f"no index at {index.store.path} (build one with: search index PATH)")
        return index

    def snapshot(self) -> ContextManager[Snapshot]:
        """The current snapshot, held until the block ends: for a layer that reads whole documents
        (``search.web``) from the same snapshots the queries use."""
        return self._snapshots.acquire()

    def update(self, paths: list[str], *, rebuild: bool = False, vectors: bool = True, deep: bool = True,
               progress: Progress | None = None, warn: Warn | None = None,
               workers: int | None = None, cluster: str | clusters.Cluster | None = None) -> Report:
        """Index files and folders, or bring the index in sync with them; then compute the
        vectors passages lack (unless ``vectors=False``), then their deep vectors (unless
        ``deep=False`` or ``vectors=False``). ``cluster``: a Dask cluster's address
        (``tcp://HOST:PORT``, or ``local:N`` to start N workers here) or a connected
        ``search.workers.cluster.Cluster``, whose workers then do the analysis and encoding."""
        from .indexer import index_paths

        connected = clusters.connect(cluster) if isinstance(cluster, str) else nullcontext(cluster)
        with connected as pool:
            return index_paths(self.store, paths, rebuild=rebuild, with_vectors=vectors, with_deep=deep,
                               progress=progress, warn=warn, workers=workers, cluster=pool)

    def stats(self) -> Stats:
        """Documents, passages per language, vector and deep vector coverage, size on disk and last commit."""
        with self._snapshots.acquire() as snapshot:
            documents = len(snapshot.scorer.term(KIND, FILE))
            passages = {lang: len(snapshot.passages(lang)) for lang in LANGS}
            covered = snapshot.vectors.coverage.covered
            deep = snapshot.deep.coverage.covered
            segments = len(snapshot.leaves)
            committed = snapshot.commit.committed
        size = _disk_size(self.store.path)
        updated = datetime.fromtimestamp(committed, timezone.utc).isoformat(timespec="seconds")
        return Stats(str(self.store.path), documents, passages, covered, deep, segments, size, updated,
                     dictionary_available())


class MultiIndex(_Searched):
    """Several index folders searched as one: passages rank as they would in one index of their
    union (document frequencies, field lengths and record counts summed across them, their
    vocabularies merged), and each hit names its index (``Hit.index``)."""

    def __init__(self, paths: Sequence[str | os.PathLike[str]], ranking: Ranking = RANKING) -> None:
        """Raises IndexMissing if a folder holds no index, InputError if none is given."""
        if not paths:
            raise InputError("give at least one index to search")
        stores = [Store(path) for path in paths]
        for store in stores:
            if not store.exists():
                raise IndexMissing(f"no index at {store.path} (build one with: search index PATH --index {store.path})")
        self._snapshots = Snapshots(stores[0], ranking, stores[1:])


def default_index_missing(path: str | None) -> bool:
    """True when no index was named (--index) and none exists at the default location."""
    return path is None and not Store(default_location()).exists()


def _disk_size(folder: Path) -> int:
    """The bytes of a folder's files. A writer may be renaming its temporary files and folders
    into place meanwhile: what vanishes while it is read counts as nothing (os.walk passes over a
    folder it cannot list, where pathlib's rglob raised FileNotFoundError)."""
    total = 0
    for parent, _, names in os.walk(folder):
        for name in names:
            try:
                total += os.stat(os.path.join(parent, name), follow_symlinks=False).st_size
            except OSError:
                pass
    return total
