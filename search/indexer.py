"""Keep an index in sync with files and folders: documents -> passages -> index.

New and changed files are (re)indexed, files that disappeared from the given
paths are removed, unchanged files are skipped by size and mtime (or by content
hash when only the mtime moved). Everything is committed at once at the end, so
an interrupted run leaves the previous commit as it was.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from whoosh.writing import IndexWriter

from . import embeddings, vectors, vocabulary
from .analysis import PreAnalysed, analyse
from .passages import Passage, sentences, split_passages
from .sources import Document, SourceFile, Undecodable, discover, read, root_key
from .languages import lexicon
from .store import FILE, PASSAGE, Store, Writing

BATCH_PASSAGES = 512
"""Passages analysed and embedded together (embeddings are much faster in batches)."""


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
        batch = _Batch(writing, report)
        for source in sources:
            _sync_file(source, known.get(source.key), batch, report, warn)
            if progress:
                progress(1)
        batch.flush()
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


class _Batch:
    """Documents waiting to be analysed, embedded and added together."""

    def __init__(self, writing: Writing, report: Report) -> None:
        self.writing = writing
        self.report = report
        self.pending: list[Document] = []
        self.size = 0

    def delete(self, key: str) -> None:
        self.writing.writer.delete_by_term("key", key)
        self.writing.changed = True

    def add(self, document: Document) -> None:
        self.pending.append(document)
        self.size += len(document.text) // 200 + 1
        if self.size >= BATCH_PASSAGES:
            self.flush()

    def flush(self) -> None:
        documents = [(document, split_passages(document.text)) for document in self.pending]
        # Each passage is embedded whole and, when it has several sentences, sentence by sentence.
        groups = [[p.text] + _several(sentences(p.text)) for _, passages in documents for p in passages]
        rows = embeddings.encode([text for group in groups for text in group])
        offsets = np.cumsum([0] + [len(group) for group in groups])
        vectors = iter(rows[a:b] for a, b in zip(offsets, offsets[1:]))
        writer = self.writing.writer
        for document, passages in documents:
            writer.add_document(**_file_record(document, len(passages)))
            for passage, vector in zip(passages, vectors):
                writer.add_document(**_passage_record(document, passage, vector))
            self.report.passages += len(passages)
            self.writing.changed = True
        self.pending, self.size = [], 0


def _several(items: list[str]) -> list[str]:
    return items if len(items) > 1 else []


def _passage_record(document: Document, passage: Passage, vector: np.ndarray) -> dict:
    source = document.source
    fields = analyse(passage.text)
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

