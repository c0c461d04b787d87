"""Keep an index in sync with files and folders: documents -> passages -> index.

New and changed files are (re)indexed, files that disappeared from the given
paths are removed, unchanged files are skipped by size and mtime (or by content
hash when only the mtime moved). Everything is committed at once at the end, so
an interrupted run leaves the previous commit as it was.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from whoosh.writing import IndexWriter

from . import embeddings, vectors, vocabulary
from .analysis import Postings, PreAnalysed, analyse
from .languages import lexicon
from .passages import Passage, sentences, split_passages
from .sources import Document, SourceFile, Undecodable, discover, read, root_key
from .store import FILE, PASSAGE, Store, Writing

BATCH_PASSAGES = 512
"""Passages analysed and embedded together (embeddings are much faster in batches)."""
MAX_IN_FLIGHT = 4
"""Batches being prepared by workers ahead of the writer (bounds memory)."""
PARALLEL_MIN_BYTES = 2_000_000
"""Below this much text, starting worker processes costs more than it saves."""


@dataclass
class Report:
    """What an indexing run did."""

    indexed: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    passages: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)


Progress = Callable[[int], None]
Warn = Callable[[str], None]


def index_paths(store: Store, paths: list[str], *, rebuild: bool = False,
                progress: Progress | None = None, warn: Warn | None = None,
                on_start: Callable[[int], None] | None = None) -> Report:
    """Bring the index in line with the files under ``paths``.

    ``on_start`` is told how many files were found; ``progress`` is told of each
    file done; ``warn`` gets one line per skipped file.
    """
    sources = list(discover(paths))
    if on_start:
        on_start(len(sources))
    store.create()
    report = Report()
    roots = [root_key(path) for path in paths]
    with store.writing(clear=rebuild) as writing:
        known = {} if rebuild else _file_records(writing.writer)
        batch = _Batch(writing, report, parallel=sum(s.size for s in sources) >= PARALLEL_MIN_BYTES)
        try:
            for source in sources:
                _sync_file(source, known.get(source.key), batch, report, warn)
                if progress:
                    progress(1)
            batch.finish()
        finally:
            batch.close()
        seen = {source.key for source in sources}
        for key in known.keys() - seen:
            if any(key == root or key.startswith(root + os.sep) for root in roots):
                writing.writer.delete_by_term("key", key)
                writing.changed = True
                report.removed += 1
    with store.searcher() as searcher:
        vectors.for_searcher(store, searcher)
        if writing.changed:
            vocabulary.refresh(store, searcher)
    lexicon.ensure_cached(store.path)
    return report


def _file_records(writer: IndexWriter) -> dict[str, dict]:
    with writer.searcher() as searcher:
        return {record["key"]: record for record in searcher.documents(kind=FILE)}


def _sync_file(source: SourceFile, record: dict | None, batch: "_Batch", report: Report,
               warn: Warn | None) -> None:
    if record and tuple(record["stamp"][:2]) == (source.size, source.mtime_ns):
        report.unchanged += 1
        return
    try:
        document = read(source)
    except (Undecodable, OSError, ValueError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        report.skipped.append((source.path, reason))
        if warn:
            warn(f"skipped {source.path}: {reason}")
        if record:
            batch.delete(source.key)
        return
    if record and record["stamp"][2] == document.sha1:
        batch.writing.writer.update_document(**_file_record(document, record["stamp"][4]))
        batch.writing.changed = True
        report.unchanged += 1
        return
    if record:
        batch.delete(source.key)
        report.updated += 1
    else:
        report.indexed += 1
    batch.add(document)


def _file_record(document: Document, passages: int) -> dict:
    source = document.source
    return {
        "id": f"file:{source.key}",
        "kind": FILE,
        "key": source.key,
        "doc": source.path,
        "stamp": (source.size, source.mtime_ns, document.sha1, document.encoding, passages),
    }


@dataclass
class Prepared:
    """One document's passages with their analysed fields and vectors (picklable)."""

    passages: list[Passage]
    fields: list[dict[str, Postings]]
    vectors: list[np.ndarray]


def prepare(texts: list[str]) -> list[Prepared]:
    """Split, analyse and embed documents: the costly part of indexing, run in worker
    processes on a large run. Each passage is embedded whole and, when it has several
    sentences, sentence by sentence."""
    split = [split_passages(text) for text in texts]
    groups = [[p.text] + _several(sentences(p.text)) for passages in split for p in passages]
    rows = embeddings.encode([text for group in groups for text in group])
    offsets = np.cumsum([0] + [len(group) for group in groups])
    vectors = iter([rows[a:b] for a, b in zip(offsets, offsets[1:])])
    return [Prepared(passages, [analyse(p.text) for p in passages], [next(vectors) for _ in passages])
            for passages in split]


def _start_worker() -> None:
    embeddings.use_threads(1)  # the processes share the cores instead


class _Batch:
    """Documents waiting to be prepared and added, a batch at a time.

    On a large run batches are prepared by a pool of worker processes, one per
    core, while this process writes earlier batches into the index. The pool is
    spawned, not forked, so that no worker inherits the index's write lock.
    """

    def __init__(self, writing: Writing, report: Report, parallel: bool) -> None:
        self.writing = writing
        self.report = report
        self.pending: list[Document] = []
        self.size = 0
        self.in_flight: deque[tuple[list[Document], Future]] = deque()
        self.pool = ProcessPoolExecutor(max_workers=os.cpu_count() or 1, initializer=_start_worker,
                                        mp_context=multiprocessing.get_context("spawn")) if parallel else None

    def delete(self, key: str) -> None:
        self.writing.writer.delete_by_term("key", key)
        self.writing.changed = True

    def add(self, document: Document) -> None:
        self.pending.append(document)
        self.size += len(document.text) // 200 + 1
        if self.size >= BATCH_PASSAGES:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            texts = [document.text for document in self.pending]
            if self.pool:
                future = self.pool.submit(prepare, texts)
            else:
                future = Future()
                future.set_result(prepare(texts))
            self.in_flight.append((self.pending, future))
            self.pending, self.size = [], 0
        while len(self.in_flight) > MAX_IN_FLIGHT:
            self._write(*self.in_flight.popleft())

    def finish(self) -> None:
        """Write everything still pending."""
        self.flush()
        while self.in_flight:
            self._write(*self.in_flight.popleft())

    def close(self) -> None:
        """Stop the workers (after finish, or on an error)."""
        if self.pool:
            self.pool.shutdown(cancel_futures=True)

    def _write(self, documents: list[Document], future: Future) -> None:
        writer = self.writing.writer
        for document, prepared in zip(documents, future.result()):
            writer.add_document(**_file_record(document, len(prepared.passages)))
            for passage, fields, vector in zip(prepared.passages, prepared.fields, prepared.vectors):
                writer.add_document(**_passage_record(document, passage, fields, vector))
            self.report.passages += len(prepared.passages)
            self.writing.changed = True


def _several(items: list[str]) -> list[str]:
    return items if len(items) > 1 else []


def _passage_record(document: Document, passage: Passage, fields: dict[str, Postings],
                    vector: np.ndarray) -> dict:
    source = document.source
    return {
        "id": f"{source.key}#{passage.number}",
        "kind": PASSAGE,
        "key": source.key,
        "doc": source.path,
        "passage": passage.number,
        "start": passage.start,
        "end": passage.end,
        "lang": passage.lang,
        "text": passage.text,
        "vector": embeddings.to_bytes(vector),
        **{name: PreAnalysed(postings) for name, postings in fields.items()},
    }

