"""Keep an index in sync with files and folders, in three phases.

1. Text. New and changed files are read (images and scanned PDF pages by OCR),
   split into passages and analysed, and written as new segments (``segments``)
   by worker processes, while this process deletes the records they replace and
   commits at intervals. A cluster's workers need not see the files: this process
   sends each file's bytes, read there, OCR included (a file over ``SENT_BYTES``
   is read here, its text sent), and they send the segment's files back. Files that
   disappeared from the given paths are removed; unchanged files (same size and
   mtime, or same content when only the mtime moved) are skipped. The text
   index answers queries from its first commit.
2. Vectors (``vectorize``). Passages without a vector are encoded and their
   vectors saved beside their segment and committed, at intervals too; then the
   index's vocabulary. A later run encodes only what is still missing, so this
   phase can be stopped and resumed; no text is encoded twice.
3. Deep vectors (``vectorize`` with e5). The same for the stronger, 30-80 times
   costlier encoder; queries use it for the passages it has reached.

An interrupted or killed run keeps everything it committed; the same command
continues from there.
"""

from __future__ import annotations

import errno
import math
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Literal, Protocol

from whoosh.codec.whoosh3 import W3Segment
from whoosh.filedb.filestore import FileStorage, RamStorage

from . import analysis
from .errors import IndexUnwritable, Interrupted
from .ingest import archives, ocr
from .ingest.sources import Document, SourceFile, Undecodable, discover, read, root_key
from .languages import english, lexicon, russian
from .storage import wordsets
from .storage.codec import ArrayCodec
from .storage.schema import FILE, KEY, KIND, LANG, PASSAGE, schema
from .storage.segments import SegmentBuilder
from .storage.store import Store, Writer
from .vectors import vectorize
from .workers.cluster import Cluster
from .workers.local import cores, executor, ordered, stop

COMMIT_SECONDS = 30.0
"""Both phases commit what they have done at least this often: an interrupted run loses no more."""
TASK_BYTES = 16 << 20
"""The most text one task (one new segment) takes: bounds a worker's memory, and what a kill loses."""
PARALLEL_BYTES = 1 << 20
"""Less text than this is indexed in this process: starting workers would cost more."""
SENT_BYTES = archives.MAX_MEMBER
"""The largest file a cluster's task carries as its bytes, to be read on a worker (OCR included). The
readers hold a file whole in memory, except an archive, streamed a member at a time, each member up to
this size: so sending files up to it holds no more of one file in any process than a local build's
reading may. A larger file is read in this process as in a local build (an archive streamed from
disk, never whole in memory), and sent as its text."""


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
    """Files that could not be read, with the reason (each named in a warning)."""
    unsupported: dict[str, int] = field(default_factory=dict)
    """Files of kinds the indexer does not read, counted by suffix."""
    files: int = 0
    """Files found under the given paths."""
    encoded: int = 0
    """Texts (passages and sentences) encoded into vectors."""
    reused: int = 0
    """Passages whose text had a vector already (in the index, or earlier in this run)."""
    vectors_missing: int = 0
    """Passages left without a vector (the vector phase was skipped or stopped)."""
    deep_encoded: int = 0
    """Texts (passages and sentences) encoded into deep vectors."""
    deep_reused: int = 0
    """Passages whose text had a deep vector already."""
    deep_missing: int = 0
    """Passages left without a deep vector (the deep phase was skipped or stopped)."""

    @property
    def done(self) -> int:
        return self.indexed + self.updated + self.unchanged + len(self.skipped)


def index_paths(store: Store, paths: list[str], *, rebuild: bool = False, with_vectors: bool = True,
                with_deep: bool = True, progress: Progress | None = None, warn: Warn | None = None,
                workers: int | None = None, cluster: Cluster | None = None) -> Report:
    """Bring the index in line with the files under ``paths``, then fill in missing vectors
    (unless ``with_vectors`` is false), then missing deep vectors (unless either is false).
    With a ``cluster``, its workers read the files (from the bytes this process sends them, OCR
    included), analyse the text and encode the vectors; this process writes the index.

    Raises Interrupted (after committing what was done) on Ctrl-C.
    """
    unsupported: Counter[str] = Counter()
    sources = list(discover(paths, unsupported))  # a missing path fails before the index is touched
    report = Report(files=len(sources), unsupported=dict(unsupported.most_common()))
    progress = progress or _Silent()
    workers = workers or (cluster.workers if cluster else cores())
    phase = "indexing"
    try:
        with store.writer(clear=rebuild) as writer:
            _sync_text(writer, sources, [root_key(p) for p in paths], rebuild, report, progress,
                       warn or (lambda _: None), workers, cluster)
            if warn and any(ocr.MISSING in reason for _, reason in report.skipped):
                warn(ocr.INSTALL)  # once, however many images were skipped
            phase = "vectors"
            if with_vectors:
                _fill_words(writer, progress)
                vectorize.fill(writer, vectorize.SENTENCES, report, progress, workers, COMMIT_SECONDS, cluster)
            else:
                report.vectors_missing = vectorize.missing(writer, vectorize.SENTENCES.space)
            phase = "deep"
            if with_vectors and with_deep:
                deep = vectorize.Count()
                try:
                    vectorize.fill(writer, vectorize.DEEP, deep, progress, workers, COMMIT_SECONDS, cluster)
                finally:
                    report.deep_encoded, report.deep_reused = deep.encoded, deep.reused
            else:
                report.deep_missing = vectorize.missing(writer, vectorize.DEEP.space)
    except KeyboardInterrupt:
        raise Interrupted(_interrupted(report, phase)) from None
    except OSError as error:
        if error.errno not in _NO_ROOM:
            raise
        raise IndexUnwritable(f"cannot write the index at {store.path}: {error.strerror}; its last commit is "
                              f"intact: run the same command to continue once there is room") from None
    lexicon.cached()  # compiled once per machine, like the English word list: the first query need not wait
    english.is_word("")
    return report


def _fill_words(writer: Writer, progress: Progress) -> None:
    """The words of each segment's passages that have none yet, for alignment (``wordsets``): with the
    vector phase, which makes the vocabularies that alignment needs (1.7-1.9 s at 1x, all new)."""
    folder = writer.store.vectors_folder(wordsets.FOLDER)
    segments = list(writer.segments)
    lacking = [segments[i] for i in wordsets.missing(folder, [(s.segment_id(), s.doc_count_all()) for s in segments])]
    if not lacking:
        return
    passages = [sorted(writer.live(segment, KIND, PASSAGE).tolist()) for segment in lacking]
    progress.start("words", sum(map(len, passages)))

    def texts(segment: W3Segment, docnums: list[int]) -> Iterator[tuple[int, str]]:
        for start in range(0, len(docnums), WORDS_CHUNK):  # a chunk of records in memory at a time
            chunk = docnums[start:start + WORDS_CHUNK]
            yield from zip(chunk, (record["text"] for record in writer.stored(segment, chunk)))
            progress.advance(len(chunk))

    for segment, docnums in zip(lacking, passages):
        wordsets.save(folder, segment.segment_id(), segment.doc_count_all(), texts(segment, docnums))


WORDS_CHUNK = 2000
"""Passages whose stored records ``_fill_words`` reads at a time."""


_NO_ROOM = (errno.ENOSPC, errno.EDQUOT, errno.EROFS)
"""Write errors that stop a run but say nothing against the index: the disk is full or read-only."""


def _interrupted(report: Report, phase: str) -> str:
    if phase == "indexing":
        return (f"interrupted: {report.done:,} of {report.files:,} files indexed and committed; "
                f"run the same command to continue")
    if phase == "vectors":
        return "interrupted: the text index is complete, vectors in part; run the same command to continue"
    return ("interrupted: the text index and its vectors are complete, deep vectors in part; "
            "run the same command to continue")


# ---- phase 1: text ----------------------------------------------------------------


@dataclass(frozen=True)
class TextTask:
    """Files for one worker to read, split, analyse and write as one new segment."""

    folder: str | None
    """The index folder; None: the segment is built in memory and its files returned (on a
    cluster, whose workers need not see the index)."""
    files: tuple[tuple[SourceFile | Content | Document | Outcome, tuple | None], ...]
    """Each file (for a cluster, its content; or, for a file over SENT_BYTES, the document read
    from it here; or why it could not be read), and the stamp it was indexed with (None: new to
    the index)."""


@dataclass(frozen=True)
class Content:
    """A file's bytes, read here for a cluster's worker to decode: the workers need not see the files."""

    source: SourceFile
    data: bytes


@dataclass(frozen=True)
class Outcome:
    """What became of one file."""

    key: str
    path: str
    kind: Literal["indexed", "touched", "skipped"]
    passages: int = 0
    reason: str = ""
    notes: tuple[str, ...] = ()
    """Members of an archive or e-mail that were skipped, each with the reason."""


@dataclass(frozen=True)
class TextResult:
    segment: W3Segment | None
    outcomes: tuple[Outcome, ...]
    files: tuple[tuple[str, bytes], ...] = ()
    """The segment's files, when it was built in memory (``TextTask.folder`` None)."""


def _sync_text(writer: Writer, sources: list[SourceFile], roots: list[str], rebuild: bool, report: Report,
               progress: Progress, warn: Warn, workers: int, cluster: Cluster | None) -> None:
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
    size = sum(source.cost for source, _ in work)
    parallel = workers if size >= PARALLEL_BYTES or cluster else 1
    chunks = list(_chunks(work, parallel))
    if cluster:  # the bytes are read as each task is handed out: no more are held than tasks in flight
        tasks: Iterator[TextTask] = (TextTask(None, tuple((_sent(s), stamp) for s, stamp in chunk))
                                     for chunk in chunks)
    else:
        tasks = (TextTask(str(writer.store.path), tuple(chunk)) for chunk in chunks)
    last = time.monotonic()
    with cluster.executor() if cluster else executor(parallel, writer.lock_descriptor) as pool:
        try:
            for chunk, result in zip(chunks, ordered(pool, build_segment, tasks, ahead=parallel)):
                _save_files(writer.store.path, result.files)
                _apply(writer, result, known, report, warn)
                progress.advance(len(chunk))
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
    if work:
        russian.freeze_kept()  # the lemmas of the words the run met, for queries
        analysis.freeze_kept()  # and their terms, for highlighting


def _chunks(work: list[tuple[SourceFile, tuple | None]], workers: int) -> Iterator[list]:
    """Split the work into tasks of similar size, a multiple of the workers, none over TASK_BYTES."""
    total = sum(source.cost for source, _ in work)
    count = workers * max(1, math.ceil(total / (workers * TASK_BYTES)))
    target = max(1, total // count)
    chunk: list = []
    size = 0
    for item in work:
        chunk.append(item)
        size += item[0].cost
        if size >= target:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def _sent(source: SourceFile) -> Content | Document | Outcome:
    """What a cluster's task carries for a file: its bytes, or for a file over SENT_BYTES its
    document read here; or why it cannot be read."""
    if source.size > SENT_BYTES:
        return _read(source)
    try:
        return Content(source, Path(source.path).read_bytes())
    except OSError as error:
        return _skipped(source, error)


def _read(source: SourceFile, data: bytes | None = None) -> Document | Outcome:
    """A file's document (from ``data``, its bytes, when they were read already), or why it cannot be read."""
    try:
        return read(source, data)
    except (Undecodable, OSError, ValueError) as error:
        return _skipped(source, error)


def _skipped(source: SourceFile, error: Exception) -> Outcome:
    """A file that cannot be read, with the reason (an OSError's without the path the warning names)."""
    return Outcome(source.key, source.name, "skipped", reason=getattr(error, "strerror", None) or str(error))


def _save_files(folder: os.PathLike[str], files: tuple[tuple[str, bytes], ...]) -> None:
    """Write the files of a segment built in memory into the index folder (a segment no commit
    names is removed by the next writer, as a local worker's would be)."""
    for name, data in files:
        with open(os.path.join(folder, name), "wb") as file:
            file.write(data)


def build_segment(task: TextTask) -> TextResult:
    """Read, split and analyse a task's files into a new segment of the index (in a worker); the
    lemmas and terms found are kept for the machine, where queries read them (``russian.lemmas``,
    ``analysis.word_terms``)."""
    with analysis.analysed_afresh():
        return _built_segment(task)


def _built_segment(task: TextTask) -> TextResult:
    storage = FileStorage(task.folder) if task.folder is not None else RamStorage()
    builder = SegmentBuilder(storage, schema(), ArrayCodec())
    outcomes = []
    for item, stamp in task.files:
        if isinstance(item, SourceFile):
            document = _read(item)
        elif isinstance(item, Content):
            document = _read(item.source, item.data)
        else:
            document = item
        if isinstance(document, Outcome):
            outcomes.append(document)
            continue
        source = document.source
        if stamp and stamp[2] == document.sha1:  # touched, not changed: only its record is renewed
            builder.add(_file_record(document, stamp[4]), {KIND: FILE, KEY: source.key})
            outcomes.append(Outcome(source.key, source.name, "touched"))
            continue
        split = [(section, section.passages()) for section in document.sections]
        builder.add(_file_record(document, sum(len(passages) for _, passages in split)), {KIND: FILE, KEY: source.key})
        count = 0  # passages are numbered through the whole file, members one after another
        for section, passages in split:
            for passage, line, page in passages:
                stored = {KEY: source.key, "doc": source.name, "passage": count, "start": passage.start,
                          "end": passage.end, "line": line, "page": page, LANG: passage.lang,
                          "text": passage.text, "member": section.member}
                builder.add(stored, {KIND: PASSAGE, KEY: source.key, LANG: passage.lang}, passage.text)
                count += 1
        outcomes.append(Outcome(source.key, source.name, "indexed", count, notes=document.notes))
    if not builder.records:
        builder.cancel()
        return TextResult(None, tuple(outcomes))
    segment = builder.finish()
    files = () if task.folder is not None else tuple(
        (name, storage.files[name]) for name in sorted(storage.files))  # type: ignore[attr-defined]
    return TextResult(segment, tuple(outcomes), files)


def _file_record(document: Document, passages: int) -> dict:
    source = document.source
    return {KEY: source.key, "doc": source.name,
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
            for note in outcome.notes:
                warn(f"skipped in {outcome.path}: {note}")
    if result.segment is not None:
        writer.add(result.segment)


class _Silent:
    def start(self, label: str, total: int) -> None:
        pass

    def advance(self, amount: int) -> None:
        pass
