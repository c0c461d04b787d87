"""The Python API: open an index, keep it in sync with files, query it.

    from search import Index
    ix = Index.open("index")              # or Index("index") to create on update
    ix.update(["seeds"])                  # -> Report
    for hit in ix.search("Rosoboronexport", lang="ru").hits:
        print(hit.rank, hit.score, hit.doc, hit.passage, hit.text)

The CLI is a thin layer over this module.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Callable

from whoosh import query as wq

from .errors import IndexMissing
from .indexer import Progress, Report, Warn, index_paths  # noqa: F401  (Report is API)
from .languages import LANGS, Lang
from .searcher import Cross, Results, search
from .store import FILE, Store, default_location

DEFAULT_SOURCES = ["seeds"]
"""What `search index` reads when given no path, and `search query` builds a missing index from."""


@dataclass(frozen=True)
class Stats:
    path: str
    documents: int
    passages: dict[str, int]
    size_bytes: int
    last_update: str
    dictionary: bool

    def to_json(self) -> dict:
        return asdict(self)


class Index:
    """An index folder, opened for searching and updating."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.store = Store(path if path is not None else default_location())

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None) -> "Index":
        """Open an existing index; raises IndexMissing if there is none."""
        index = cls(path)
        if not index.store.exists():
            raise IndexMissing(f"no index at {index.store.path} (build one with: search index PATH)")
        return index

    def __enter__(self) -> "Index":
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def search(self, query: str, *, limit: int = 10, lang: Lang | None = None,
               cross: bool | Cross = True) -> Results:
        """Ranked passages for a query; ``cross=False`` searches the literal query only,
        ``cross=Cross(names=False)`` leaves out one mechanism."""
        return search(self.store, query, limit=limit, lang=lang, cross=cross)

    def update(self, paths: list[str], *, rebuild: bool = False, progress: Progress | None = None,
               warn: Warn | None = None, on_start: Callable[[int], None] | None = None) -> Report:
        """Index files and folders, or bring the index in sync with them."""
        return index_paths(self.store, paths, rebuild=rebuild, progress=progress, warn=warn,
                           on_start=on_start)

    def stats(self) -> Stats:
        """Documents, passages per language, size on disk and time of the last commit."""
        with self.store.searcher() as searcher:
            def count(field: str, value: str) -> int:  # live documents only, unlike doc_frequency
                return sum(1 for _ in searcher.docs_for_query(wq.Term(field, value)))

            documents = count("kind", FILE)
            passages = {lang: count("lang", lang) for lang in LANGS}
            generation = searcher.reader().generation()
        toc = self.store.path / f"_passages_{generation}.toc"
        size = sum(f.stat().st_size for f in self.store.path.iterdir() if f.is_file())
        updated = datetime.fromtimestamp(toc.stat().st_mtime, timezone.utc).isoformat(timespec="seconds")
        from .languages.lexicon import dictionary_available

        return Stats(str(self.store.path), documents, passages, size, updated, dictionary_available())


def default_index_missing(path: str | None) -> bool:
    """True when no index was named (--index) and none exists at the default location."""
    return path is None and not Store(default_location()).exists()
