"""Passages without vectors -> vectors: the vector phases of indexing.

There are two, one per encoder (``Encoder``): the vector phase computes the
sentence encoder's vectors (``embeddings``, fast) and the index's vocabulary;
the deep phase then computes e5's (``deep``, 30-80 times as costly). Each works
the same way. The main process reads the passages that have no vector yet and looks each
text up among the vectors the index already has (a passage that moved, or a
copy of another, keeps its vector: no text is encoded twice); the encoder's
workers encode the rest. The work is a pipeline of jobs -- chunks of a
segment's passages, then the index's vocabulary -- and while the workers
encode one job the main process prepares the next, so they never wait for it.
Each segment's vectors are saved and committed at intervals and when it is
done, so the phase can be stopped at any point and resumed.
"""

from __future__ import annotations

import hashlib
import time
from collections import deque
from concurrent.futures import Executor, Future
from contextlib import nullcontext
from dataclasses import dataclass
from itertools import chain, islice
from typing import Callable, ContextManager, Iterator, Protocol, Sequence

import numpy as np
from whoosh.codec.whoosh3 import W3Segment

from ..ingest.passages import sentences
from ..storage.schema import KIND, PASSAGE
from ..storage.store import Writer
from ..workers.cluster import TASK_SCALE, Cluster
from ..workers.local import executor, stop
from . import deep, embeddings, stored, vocabulary
from .stored import SegmentVectors, Space
from .wordvectors import WordVectors

VECTOR_CHUNK = 2048
"""Passages gathered and handed to the workers together."""


@dataclass(frozen=True)
class Encoder:
    """What one vector phase computes. Its functions run in the workers (module-level, so that any
    Executor can send them)."""

    space: Space
    encode: Callable[[Sequence[str]], np.ndarray]
    """Texts -> L2-normalised rows."""
    load: Callable[[], None]
    """Loads the model in a worker, once."""
    batch: int
    """Texts per task."""
    parallel_from: int
    """Fewer passages than this are encoded in this process: starting workers would cost more."""
    vocabulary: bool
    """Whether the phase embeds the index's vocabulary too (the word vectors of translation)."""


SENTENCES = Encoder(embeddings.SPACE, embeddings.encode, embeddings.load_for_corpus, embeddings.BATCH,
                    parallel_from=2000, vocabulary=True)
"""The vector phase: the Universal Sentence Encoder, 0.45 ms a news line on one core."""
DEEP = Encoder(deep.SPACE, deep.passages, deep.load_for_corpus, deep.BATCH, parallel_from=200, vocabulary=False)
"""The deep phase: multilingual-e5-small, about 40 ms a news line on one core."""


class Tally(Protocol):
    """Where the phase counts what it did (an indexing Report, or a Count)."""

    encoded: int
    """Texts (passages and sentences) encoded."""
    reused: int
    """Passages whose text had a vector already (in the index, or earlier in this run)."""


@dataclass
class Count:
    """A Tally of its own."""

    encoded: int = 0
    reused: int = 0


class Progress(Protocol):
    def start(self, label: str, total: int) -> None: ...

    def advance(self, amount: int) -> None: ...


def fill(writer: Writer, encoder: Encoder, tally: Tally, progress: Progress, workers: int,
         commit_seconds: float, cluster: Cluster | None = None) -> None:
    """Encode every live passage that has no vector of this encoder's, then (for the sentence
    encoder) refresh the vocabulary if the index changed; on the ``cluster``'s workers if given."""
    space = encoder.space
    folder = writer.store.vectors_folder(space.folder)
    plan = [(segment, stored.load(folder, segment.segment_id(), space)) for segment in writer.segments]
    missing = [(segment, found, without_vectors(writer, segment, found)) for segment, found in plan]
    relist = [(segment, found) for segment, found, docnums in missing if not docnums and stored.wants_layout(found)]
    if relist:  # complete segments from a build before their projection was laid out as now: seconds each
        progress.start(f"{space.folder} layout", len(relist))
        for segment, found in relist:
            stored.save(folder, segment.segment_id(), found, space, complete=True)
            writer.commit()
            progress.advance(1)
    total = sum(len(docnums) for _, _, docnums in missing)
    progress.start(space.folder, total)
    workers = workers if total >= encoder.parallel_from or cluster else 1
    pool = cluster.executor(encoder.load) if cluster else executor(workers, writer.lock_descriptor, encoder.load)
    with pool, _one_blas_thread(workers > 1):
        reuse = _Reuse({segment.segment_id(): found for segment, found in plan})
        jobs = [_SegmentJobs(writer, encoder, segment, found, docnums, reuse, tally, progress, commit_seconds)
                for segment, found, docnums in missing if docnums]
        passages: Iterator[_Job] = (job for segment_jobs in jobs for job in segment_jobs)
        source = {segment.segment_id(): segment.deleted_count() for segment in writer.segments}
        if encoder.vocabulary and vocabulary.built_from(writer.store.path) != source:
            # read while the first chunk is encoded
            passages = chain(islice(passages, 1), [_VocabularyJob(writer, source)], passages)  # type: ignore[list-item]
        try:
            _run(pool, encoder, passages, encoder.batch * (TASK_SCALE if cluster else 1))
        except KeyboardInterrupt:
            stop(pool)
            for segment_jobs in jobs:  # what was encoded is kept
                if segment_jobs.unsaved:
                    segment_jobs.save()
            raise


def _one_blas_thread(beside_workers: bool) -> ContextManager[object]:
    """Beside the workers, this process's own matrix work (the vectors' and vocabulary's principal
    components) runs on one BLAS thread: with the cores taken, OpenBLAS's threads waited on each
    other so long that a 512x512 eigendecomposition took 3 s instead of 20 ms."""
    if not beside_workers:
        return nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def missing(writer: Writer, space: Space) -> int:
    """How many live passages have no vector in a space."""
    folder = writer.store.vectors_folder(space.folder)
    return sum(len(without_vectors(writer, s, stored.load(folder, s.segment_id(), space))) for s in writer.segments)


def without_vectors(writer: Writer, segment: W3Segment, found: SegmentVectors) -> list[int]:
    passages = writer.live(segment, KIND, PASSAGE)
    return sorted(set(passages.tolist()) - set(found.rows.tolist()))


class _Job(Protocol):
    texts: list[str]

    def done(self, rows: np.ndarray) -> None: ...


def _run(pool: Executor, encoder: Encoder, jobs: Iterator[_Job], size: int, depth: int = 2) -> None:
    """Encode each job's texts on the pool, ``size`` to a task, in order; the next job is prepared
    while up to ``depth`` are encoded, so the workers never wait for it."""
    pending: deque[tuple[_Job, list[Future]]] = deque()
    for job in jobs:  # preparing the next job happens here, while the pending ones are encoded
        pending.append((job, [pool.submit(encoder.encode, job.texts[i:i + size])
                              for i in range(0, len(job.texts), size)]))
        if len(pending) > depth:
            _finish(*pending.popleft(), encoder.space.dim)
    while pending:
        _finish(*pending.popleft(), encoder.space.dim)


def _finish(job: _Job, futures: list[Future], dim: int) -> None:
    rows = [future.result() for future in futures]
    job.done(np.vstack(rows) if rows else np.zeros((0, dim), np.float32))


Vectors = tuple[np.ndarray, list[np.ndarray]]
"""A passage's vector and its sentences' vectors."""


class _Reuse:
    """The vectors of passage texts seen so far, by the digest of the text: saved in the index,
    encoded in this run since the last save, or still being encoded (in flight)."""

    def __init__(self, parts: dict[str, SegmentVectors]) -> None:
        self.by_segment: dict[str, SegmentVectors] = {}
        self.parts: list[SegmentVectors] = []
        self.recent: dict[int, Vectors] = {}
        self.in_flight: set[int] = set()
        for segment_id, part in parts.items():
            self.saved(segment_id, part)

    def saved(self, segment_id: str, part: SegmentVectors) -> None:
        """A segment's vectors were saved (replacing what it had): they hold what was recent."""
        self.by_segment[segment_id] = part
        self.parts = [p for p in self.by_segment.values() if len(p)]
        if self.parts:
            owners = np.concatenate([np.full(len(p), i) for i, p in enumerate(self.parts)])
            rows = np.concatenate([np.arange(len(p)) for p in self.parts])
            digests = np.concatenate([p.digests for p in self.parts])
            order = np.argsort(digests, kind="stable")
            self._digests, self._owners, self._rows = digests[order], owners[order], rows[order]
        self.recent.clear()

    def find(self, digests: list[int]) -> list[Vectors | None]:
        found: list[Vectors | None] = [self.recent.get(digest) for digest in digests]
        if self.parts:
            wanted = np.array(digests, dtype=np.uint64)
            at = np.minimum(np.searchsorted(self._digests, wanted), len(self._digests) - 1)
            for j, (i, ok) in enumerate(zip(at.tolist(), (self._digests[at] == wanted).tolist())):
                if ok and found[j] is None:
                    part, row = self.parts[self._owners[i]], int(self._rows[i])
                    found[j] = (part.passages[row], list(part.sentences[part.owners == row]))
        return found


def _digest(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


class _SegmentJobs:
    """The jobs of one segment: a chunk of its passages each, saving and committing as it goes."""

    def __init__(self, writer: Writer, encoder: Encoder, segment: W3Segment, found: SegmentVectors,
                 docnums: list[int], reuse: _Reuse, tally: Tally, progress: Progress, commit_seconds: float) -> None:
        self.writer, self.space, self.segment, self.found, self.docnums = writer, encoder.space, segment, found, docnums
        self.reuse, self.tally, self.progress, self.commit_seconds = reuse, tally, progress, commit_seconds
        self.new: _NewVectors | None = None  # allocated when its first chunk is done
        self.last_save = time.monotonic()
        self.unsaved = False

    def __iter__(self) -> Iterator["_Chunk"]:
        for start in range(0, len(self.docnums), VECTOR_CHUNK):
            yield _Chunk(self, self.docnums[start:start + VECTOR_CHUNK],
                         last=start + VECTOR_CHUNK >= len(self.docnums))

    def add(self, docnum: int, digest: int, passage: np.ndarray, sentence_vectors: list[np.ndarray]) -> None:
        if self.new is None:
            self.new = _NewVectors(len(self.docnums), self.space.dim)
        self.new.add(docnum, digest, passage, sentence_vectors)
        self.unsaved = True

    def save(self, final: bool = False) -> None:
        """Save the segment's vectors and commit them (a new generation: readers pick them up)."""
        assert self.new is not None
        folder = self.writer.store.vectors_folder(self.space.folder)
        stored.save(folder, self.segment.segment_id(), self.new.merged(self.found), self.space, complete=final)
        self.writer.commit()
        self.last_save = time.monotonic()
        self.unsaved = False
        segment_id = self.segment.segment_id()
        self.reuse.saved(segment_id, stored.load(folder, segment_id, self.space))  # mapped, not held in memory
        if final:
            self.new = None  # the saved folder holds them now


class _Chunk:
    """Passages of a segment whose texts are read and looked up now, and encoded next.

    A passage whose text has a vector takes it; one whose text an earlier chunk is
    still encoding takes that vector when this chunk is done (chunks finish in order);
    the first of the others with each text is encoded.
    """

    def __init__(self, owner: _SegmentJobs, docnums: list[int], last: bool) -> None:
        self.owner, self.docnums, self.last = owner, docnums, last
        reuse = owner.reuse
        texts = [stored["text"] for stored in owner.writer.stored(owner.segment, docnums)]
        self.digests = [_digest(text) for text in texts]
        known = reuse.find(self.digests)
        self.units: list[list[str]] = []
        encoding: set[int] = set()
        for text, digest, hit in zip(texts, self.digests, known):
            if hit is None and digest not in reuse.in_flight and digest not in encoding:
                encoding.add(digest)
                self.units.append([text] + _several(sentences(text)))
            else:
                self.units.append([])
        reuse.in_flight |= encoding
        self.encoding = encoding
        self.texts = list(dict.fromkeys(t for unit in self.units for t in unit))

    def done(self, rows: np.ndarray) -> None:
        owner, tally, reuse = self.owner, self.owner.tally, self.owner.reuse
        encoded = dict(zip(self.texts, rows))
        for digest, unit in zip(self.digests, self.units):
            if unit:
                reuse.recent[digest] = (encoded[unit[0]], [encoded[t] for t in unit[1:]])
        reuse.in_flight -= self.encoding
        for docnum, digest, found in zip(self.docnums, self.digests, reuse.find(self.digests)):
            assert found is not None  # encoded here, or earlier
            owner.add(docnum, digest, *found)
        tally.encoded += len(self.texts)
        tally.reused += len(self.docnums) - len(self.encoding)
        owner.progress.advance(len(self.docnums))
        if self.last or time.monotonic() - owner.last_save >= owner.commit_seconds:
            owner.save(final=self.last)


def _several(items: list[str]) -> list[str]:
    return items if len(items) > 1 else []


class _NewVectors:
    """Vectors computed for some of a segment's passages, to merge with those it had."""

    def __init__(self, capacity: int, dim: int) -> None:
        self.count, self.dim = 0, dim
        self.rows = np.zeros(capacity, np.int32)
        self.digests = np.zeros(capacity, np.uint64)
        self.passages = np.zeros((capacity, dim), np.float32)
        self.sentences: list[np.ndarray] = []
        self.owners: list[int] = []

    def add(self, docnum: int, digest: int, passage: np.ndarray, sentence_vectors: list[np.ndarray]) -> None:
        """A passage's vector and those of its sentences (none for a passage of one sentence)."""
        self.owners.extend([self.count] * len(sentence_vectors))
        self.sentences.extend(sentence_vectors)
        self.rows[self.count], self.digests[self.count], self.passages[self.count] = docnum, digest, passage
        self.count += 1

    def merged(self, old: SegmentVectors) -> SegmentVectors:
        """The old vectors and these, in docnum order (views of these, if there were none before:
        passages are encoded in docnum order)."""
        n = self.count
        if not len(old):
            owners = np.array(self.owners, np.int32)
            sentences = np.array(self.sentences, np.float32).reshape(-1, self.dim)
            return SegmentVectors(self.rows[:n], self.passages[:n], self.digests[:n], sentences, owners)
        rows = np.concatenate([old.rows, self.rows[:n]])
        order = np.argsort(rows, kind="stable")
        position = np.empty(len(rows), np.int64)
        position[order] = np.arange(len(rows))
        dim = self.dim
        passages = np.concatenate([old.passages, self.passages[:n]])
        digests = np.concatenate([old.digests, self.digests[:n]])
        sentence_rows = np.concatenate([old.sentences, np.array(self.sentences, np.float32).reshape(-1, dim)])
        owners = position[np.concatenate([old.owners, len(old.rows) + np.array(self.owners, np.int64)])]
        by_owner = np.argsort(owners, kind="stable")
        return SegmentVectors(rows[order].astype(np.int32), passages[order], digests[order],
                              sentence_rows[by_owner], owners[by_owner].astype(np.int32))


class _VocabularyJob:
    """The index's most frequent words: read and looked up in the machine's cache now, the rest
    encoded next; then saved as the vocabulary of this generation."""

    def __init__(self, writer: Writer, source: dict[str, int]) -> None:
        self.writer, self.source = writer, source
        self.words = vocabulary.frequent_words(writer.terms())
        self.cache = WordVectors()
        self.found = self.cache.cached([w for chosen in self.words.values() for w in chosen])
        self.texts = [w for chosen in self.words.values() for w in chosen if w not in self.found]

    def done(self, rows: np.ndarray) -> None:
        known = {**self.found, **self.cache.store(dict(zip(self.texts, rows)))}
        vocabulary.save(self.writer.store.path, self.writer.generation, self.words,
                        lambda words: np.array([known[w] for w in words], np.float32).reshape(-1, embeddings.DIM),
                        self.source)
        self.cache.freeze()  # with the words queries met since, for queries
