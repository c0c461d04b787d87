"""Keep an index in sync with files and folders, in two phases.

1. Text. New and changed files are read, split into passages and analysed, and
   written as new segments (``segments``) by worker processes, while this
   process deletes the records they replace and commits at intervals. Files that
   disappeared from the given paths are removed; unchanged files (same size and
   mtime, or same content when only the mtime moved) are skipped. The text
   index answers queries from its first commit.
2. Vectors. Passages without a vector are encoded (``embeddings``) and their
   vectors saved beside their segment (``vectors``) and committed, at intervals
   too; then the index's vocabulary (``vocabulary``). A later run encodes only what is still
   missing, so this phase can be stopped and resumed; no text is encoded twice
   (a passage whose text already has a vector, anywhere in the index, reuses it).

An interrupted or killed run keeps everything it committed; the same command
continues from there.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Callable, Iterator, Literal, Protocol

import numpy as np
from whoosh.codec.whoosh3 import W3Segment
from whoosh.filedb.filestore import FileStorage

from . import embeddings, vectors, vocabulary
from .codec import ArrayCodec
from .errors import Interrupted
from .languages import lexicon
from .passages import sentences, split_passages
from .schema import FILE, KEY, KIND, LANG, PASSAGE, schema
from .segments import SegmentBuilder
from .sources import Document, SourceFile, Undecodable, discover, read, root_key
from .store import Store, Writer
from .vectors import SegmentVectors
from .wordvectors import WordVectors
from .workers import cores, executor, ordered, stop

COMMIT_SECONDS = 30.0
"""Both phases commit what they have done at least this often: an interrupted run loses no more."""
TASK_BYTES = 16 << 20
"""The most text one task (one new segment) takes: bounds a worker's memory, and what a kill loses."""
PARALLEL_BYTES = 1 << 20
"""Less text than this is indexed in this process: starting workers would cost more."""
PARALLEL_TEXTS = 2000
"""Fewer texts to encode than this are encoded in this process."""
VECTOR_CHUNK = 2048
"""Passages whose vectors are gathered, encoded and added together."""


class Progress(Protocol):
    """Told what each phase has to do and how far it got (the CLI draws bars)."""

    def start(self, label: str, total: int) -> None: ...

    def advance(self, amount: int) -> None: ...


Warn = Callable[[str], None]


@dataclass
class Report:
    """What an indexing run did."""

    indexed: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    passages: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    files: int = 0
    """Files found under the given paths."""
    encoded: int = 0
    """Texts (passages and sentences) encoded into vectors."""
    reused: int = 0
    """Passages whose text had a vector already (in the index, or earlier in this run)."""
    vectors_missing: int = 0
    """Passages left without a vector (the vector phase was skipped or stopped)."""

    @property
    def done(self) -> int:
        return self.indexed + self.updated + self.unchanged + len(self.skipped)


def index_paths(store: Store, paths: list[str], *, rebuild: bool = False, with_vectors: bool = True,
                progress: Progress | None = None, warn: Warn | None = None,
                workers: int | None = None) -> Report:
    """Bring the index in line with the files under ``paths``, then fill in missing vectors.

    Raises Interrupted (after committing what was done) on Ctrl-C.
    """
    sources = list(discover(paths))  # a missing path fails before the index is touched
    report = Report(files=len(sources))
    progress = progress or _Silent()
    workers = workers or cores()
    phase = "indexing"
    try:
        with store.writer(clear=rebuild) as writer:
            _sync_text(writer, sources, [root_key(p) for p in paths], rebuild, report, progress,
                       warn or (lambda _: None), workers)
            phase = "vectors"
            if with_vectors:
                _fill_vectors(writer, report, progress, workers)
            else:
                report.vectors_missing = _missing_vectors(writer)
    except KeyboardInterrupt:
        raise Interrupted(_interrupted(report, phase)) from None
    lexicon.cached()  # compiled once per machine: the first query need not wait for it
    return report


def _interrupted(report: Report, phase: str) -> str:
    if phase == "indexing":
        return (f"interrupted: {report.done:,} of {report.files:,} files indexed and committed; "
                f"run the same command to continue")
    return "interrupted: the text index is complete, vectors in part; run the same command to continue"


# ---- phase 1: text ----------------------------------------------------------------


@dataclass(frozen=True)
class TextTask:
    """Files for one worker to read, split, analyse and write as one new segment."""

    folder: str
    files: tuple[tuple[SourceFile, tuple | None], ...]
    """Each file, and the stamp it was indexed with (None: new to the index)."""


@dataclass(frozen=True)
class Outcome:
    key: str
    path: str
    kind: Literal["indexed", "touched", "skipped"]
    passages: int = 0
    reason: str = ""


@dataclass(frozen=True)
class TextResult:
    segment: W3Segment | None
    outcomes: tuple[Outcome, ...]


def _sync_text(writer: Writer, sources: list[SourceFile], roots: list[str], rebuild: bool, report: Report,
               progress: Progress, warn: Warn, workers: int) -> None:
    known = {} if rebuild else writer.file_records()
    work = []
    for source in sources:
        record = known.get(source.key)
        if record and tuple(record["stamp"][:2]) == (source.size, source.mtime_ns):
            report.unchanged += 1
        else:
            work.append((source, tuple(record["stamp"]) if record else None))
    progress.start("indexing", len(sources))
    progress.advance(report.unchanged)
    size = sum(source.size for source, _ in work)
    parallel = workers if size >= PARALLEL_BYTES else 1
    tasks = [TextTask(str(writer.store.path), tuple(chunk)) for chunk in _chunks(work, parallel)]
    last = time.monotonic()
    with executor(parallel, writer.lock_descriptor) as pool:
        try:
            for task, result in zip(tasks, ordered(pool, build_segment, tasks, ahead=parallel)):
                _apply(writer, result, known, report, warn)
                progress.advance(len(task.files))
                if writer.pending and time.monotonic() - last >= COMMIT_SECONDS:
                    writer.commit()
                    last = time.monotonic()
        except KeyboardInterrupt:
            stop(pool)
            if writer.pending:
                writer.commit()
            raise
    seen = {source.key for source in sources}
    for key in known.keys() - seen:
        if any(key == root or key.startswith(root + os.sep) for root in roots):
            writer.delete(key)
            report.removed += 1
    if writer.pending:
        writer.commit()


def _chunks(work: list[tuple[SourceFile, tuple | None]], workers: int) -> Iterator[list]:
    """Split the work into tasks of similar size, a multiple of the workers, none over TASK_BYTES."""
    total = sum(source.size for source, _ in work)
    count = workers * max(1, math.ceil(total / (workers * TASK_BYTES)))
    target = max(1, total // count)
    chunk: list = []
    size = 0
    for item in work:
        chunk.append(item)
        size += item[0].size
        if size >= target:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def build_segment(task: TextTask) -> TextResult:
    """Read, split and analyse a task's files into a new segment of the index (in a worker)."""
    builder = SegmentBuilder(FileStorage(task.folder), schema(), ArrayCodec())
    outcomes = []
    for source, stamp in task.files:
        try:
            document = read(source)
        except (Undecodable, OSError, ValueError) as error:
            reason = getattr(error, "strerror", None) or str(error)
            outcomes.append(Outcome(source.key, source.path, "skipped", reason=reason))
            continue
        if stamp and stamp[2] == document.sha1:  # touched, not changed: only its record is renewed
            builder.add(_file_record(document, stamp[4]), {KIND: FILE, KEY: source.key})
            outcomes.append(Outcome(source.key, source.path, "touched"))
            continue
        passages = split_passages(document.text)
        builder.add(_file_record(document, len(passages)), {KIND: FILE, KEY: source.key})
        for passage in passages:
            stored = {KEY: source.key, "doc": source.path, "passage": passage.number, "start": passage.start,
                      "end": passage.end, LANG: passage.lang, "text": passage.text}
            builder.add(stored, {KIND: PASSAGE, KEY: source.key, LANG: passage.lang}, passage.text)
        outcomes.append(Outcome(source.key, source.path, "indexed", len(passages)))
    if not builder.records:
        builder.cancel()
        return TextResult(None, tuple(outcomes))
    return TextResult(builder.finish(), tuple(outcomes))


def _file_record(document: Document, passages: int) -> dict:
    source = document.source
    return {KEY: source.key, "doc": source.path,
            "stamp": [source.size, source.mtime_ns, document.sha1, document.encoding, passages]}


def _apply(writer: Writer, result: TextResult, known: dict[str, dict], report: Report, warn: Warn) -> None:
    """Delete what a task's segment replaces, then add the segment (both reach the same commit)."""
    for outcome in result.outcomes:
        old = outcome.key in known
        if outcome.kind == "skipped":
            report.skipped.append((outcome.path, outcome.reason))
            warn(f"skipped {outcome.path}: {outcome.reason}")
            if old:
                writer.delete(outcome.key)  # a file that can no longer be read leaves the index
        elif outcome.kind == "touched":
            writer.delete(outcome.key, file_record_only=True)
            report.unchanged += 1
        else:
            if old:
                writer.delete(outcome.key)
                report.updated += 1
            else:
                report.indexed += 1
            report.passages += outcome.passages
    if result.segment is not None:
        writer.add(result.segment)


# ---- phase 2: vectors ---------------------------------------------------------------


def _fill_vectors(writer: Writer, report: Report, progress: Progress, workers: int) -> None:
    folder = writer.store.vectors_folder()
    plan = [(segment, vectors.load(folder, segment.segment_id())) for segment in writer.segments]
    missing = [(segment, found, _passages_without_vectors(writer, segment, found)) for segment, found in plan]
    total = sum(len(docnums) for _, _, docnums in missing)
    progress.start("vectors", total)
    parallel = workers if total >= PARALLEL_TEXTS else 1
    with executor(parallel, writer.lock_descriptor, start=_load_encoder) as pool:
        try:
            reuse = _Reuse(folder, [segment.segment_id() for segment in writer.segments])
            for segment, found, docnums in missing:
                if docnums:
                    _encode_segment(writer, segment, found, docnums, pool, reuse, report, progress)
            latest = max((int(p.name.split(".", 1)[1]) for p in writer.store.path.glob(vocabulary.PREFIX + "*")
                          if p.name.split(".", 1)[1].isdigit()), default=-1)
            if latest != writer.generation:
                words = vocabulary.frequent_words(writer.terms())
                word_vectors = WordVectors(encode=lambda texts: embeddings.encode_batches(pool, texts))
                vocabulary.save(writer.store.path, writer.generation, words, word_vectors.get)
        except KeyboardInterrupt:
            stop(pool)
            raise


def _load_encoder() -> None:
    embeddings.encode(["warm up"])  # in each worker: the model is loaded once


def _passages_without_vectors(writer: Writer, segment: W3Segment, found: SegmentVectors) -> list[int]:
    passages = writer.live(segment, KIND, PASSAGE)
    return sorted(set(passages.tolist()) - set(found.rows.tolist()))


def _missing_vectors(writer: Writer) -> int:
    folder = writer.store.vectors_folder()
    return sum(len(_passages_without_vectors(writer, s, vectors.load(folder, s.segment_id())))
               for s in writer.segments)


class _Reuse:
    """Vectors the index has already, by the digest of their passage's text."""

    def __init__(self, folder, segment_ids: list[str]) -> None:  # type: ignore[no-untyped-def]
        self.folder = folder
        self.parts = [vectors.load(folder, segment_id) for segment_id in segment_ids]
        self._index()

    def _index(self) -> None:
        parts = [part for part in self.parts if len(part)]
        self._owners = np.concatenate([np.full(len(p), i) for i, p in enumerate(parts)]) if parts else np.zeros(0, int)
        self._rows = np.concatenate([np.arange(len(p)) for p in parts]) if parts else np.zeros(0, int)
        digests = np.concatenate([p.digests for p in parts]) if parts else np.zeros(0, np.uint64)
        self._order = np.argsort(digests, kind="stable")
        self._digests = digests[self._order]
        self._indexed = parts

    def add(self, part: SegmentVectors) -> None:
        self.parts.append(part)
        self._index()

    def find(self, digests: np.ndarray) -> list[tuple[SegmentVectors, int] | None]:
        at = np.searchsorted(self._digests, digests)
        found: list[tuple[SegmentVectors, int] | None] = []
        for digest, i in zip(digests.tolist(), at.tolist()):
            if i < len(self._digests) and self._digests[i] == digest:
                j = self._order[i]
                found.append((self._indexed[self._owners[j]], int(self._rows[j])))
            else:
                found.append(None)
        return found


def _digest(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def _encode_segment(writer: Writer, segment: W3Segment, found: SegmentVectors, docnums: list[int],
                    executor: Executor, reuse: _Reuse, report: Report, progress: Progress) -> None:
    """Encode the missing passages of one segment, saving the segment's vectors at intervals."""
    folder = writer.store.vectors_folder()
    new = _NewVectors()
    last = time.monotonic()
    try:
        for start in range(0, len(docnums), VECTOR_CHUNK):
            chunk = docnums[start:start + VECTOR_CHUNK]
            texts = [writer.stored(segment, docnum)["text"] for docnum in chunk]
            digests = np.array([_digest(text) for text in texts], dtype=np.uint64)
            known = reuse.find(digests)
            units = [[text] + _several(sentences(text)) if hit is None else []
                     for text, hit in zip(texts, known)]
            unique = list(dict.fromkeys(t for unit in units for t in unit))
            encoded = dict(zip(unique, embeddings.encode_batches(executor, unique)))
            first = {unit[0]: i for i, unit in reversed(list(enumerate(units))) if unit}
            for docnum, digest, unit, hit in zip(chunk, digests.tolist(), units, known):
                if hit is None:
                    new.add(docnum, digest, encoded[unit[0]], [encoded[t] for t in unit[1:]])
                else:
                    part, row = hit
                    new.add(docnum, digest, part.passages[row], list(part.sentences[part.owners == row]))
            report.encoded += len(unique)
            report.reused += sum(hit is not None or first[unit[0]] != i  # a copy of an earlier passage
                                 for i, (unit, hit) in enumerate(zip(units, known)))
            progress.advance(len(chunk))
            if time.monotonic() - last >= COMMIT_SECONDS:
                vectors.save(folder, segment.segment_id(), new.merged(found))
                writer.commit()  # a new generation: readers pick the vectors up
                last = time.monotonic()
    finally:  # also on Ctrl-C: what was encoded is kept
        if len(new):
            merged = new.merged(found)
            vectors.save(folder, segment.segment_id(), merged)
            writer.commit()
            reuse.add(merged)


def _several(items: list[str]) -> list[str]:
    return items if len(items) > 1 else []


class _NewVectors:
    """Vectors computed for some of a segment's passages, to merge with those it had."""

    def __init__(self) -> None:
        self.rows: list[int] = []
        self.digests: list[int] = []
        self.passages: list[np.ndarray] = []
        self.sentences: list[np.ndarray] = []
        self.owners: list[int] = []

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, docnum: int, digest: int, passage: np.ndarray, sentence_vectors: list[np.ndarray]) -> None:
        self.owners.extend([len(self.rows)] * len(sentence_vectors))
        self.sentences.extend(sentence_vectors)
        self.rows.append(docnum)
        self.digests.append(digest)
        self.passages.append(passage)

    def merged(self, old: SegmentVectors) -> SegmentVectors:
        """The old vectors and these, in docnum order."""
        rows = np.concatenate([old.rows, np.array(self.rows, np.int32)])
        order = np.argsort(rows, kind="stable")
        position = np.empty(len(rows), np.int64)
        position[order] = np.arange(len(rows))
        dim = embeddings.DIM
        passages = np.concatenate([old.passages, np.array(self.passages, np.float32).reshape(-1, dim)])
        digests = np.concatenate([old.digests, np.array(self.digests, np.uint64)])
        sentences = np.concatenate([old.sentences, np.array(self.sentences, np.float32).reshape(-1, dim)])
        owners = position[np.concatenate([old.owners, len(old.rows) + np.array(self.owners, np.int64)])]
        by_owner = np.argsort(owners, kind="stable")
        return SegmentVectors(rows[order].astype(np.int32), passages[order], digests[order],
                              sentences[by_owner], owners[by_owner].astype(np.int32))


class _Silent:
    def start(self, label: str, total: int) -> None:
        pass

    def advance(self, amount: int) -> None:
        pass
