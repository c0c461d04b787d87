"""Each passage's distinct words, as 64-bit hashes, kept beside its segment for word alignment.

Word alignment (``ranking.alignment``) looks up the words of a query's 30 best
candidates in the vocabularies. Decoding their stored text, splitting it into
folded letter runs and finding each new form in a vocabulary took 1.34 ms a 1x
headline; through these hashes it takes 0.31. The indexer splits each passage
once instead (the indexer, before the vector phase: 1.7-1.9 s at 1x) and keeps its
forms' hashes (``files.digest64``), one folder per segment (``words/<segment>.<stamp>/``,
9 MB at 1x), which a query reads from memory maps; a vocabulary keeps its words'
hashes too (``vectors.vocabulary.Vocabulary.hashed``). The hashes name no
vocabulary, so a new vocabulary leaves them as they are. The stamp names the
rules that split and fold words (``analysis.analysis_stamp``): under other
rules a segment's words are written again. A segment without them (one written
before them, or under other rules) is aligned from its text.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ..analysis import analysis_stamp, fold
from ..files import digest64, mapped, replace_path
from ..languages.characters import LETTER_RUN
from . import checksums

FOLDER = "words"
"""The folder beside the segments that holds a folder of hashes per segment."""
LAYOUT = 1
"""The folders' layout (with the rules' stamp in each folder's name)."""
_FORMS_MEMO = 500_000
"""Word forms whose hash a process keeps (texts repeat their words)."""
_hashes: dict[str, int] = {}


def forms(text: str) -> set[str]:
    """The distinct words of a text as alignment compares them: its folded letter runs."""
    return set(LETTER_RUN.findall(fold(text)))


def hashes(words: Iterable[str]) -> np.ndarray:
    """The words' hashes (uint64), in order."""
    known = _hashes
    if len(known) > _FORMS_MEMO:
        known.clear()
    found = []
    for word in words:
        value = known.get(word)
        if value is None:
            value = known[word] = digest64(word)
        found.append(value)
    return np.array(found, dtype=np.uint64)


def of_text(text: str) -> np.ndarray:
    """The sorted hashes of a text's distinct words (``forms``)."""
    return np.sort(hashes(forms(text)))


def table(words: Sequence[str]) -> np.ndarray:
    """Words' hashes sorted, above the row each one has in ``words``: a (2, n) uint64 array (not
    kept in the memo of passages' words)."""
    found = np.fromiter((digest64(word) for word in words), np.uint64, len(words))
    order = np.argsort(found, kind="stable")
    return np.stack([found[order], order.astype(np.uint64)])


def rows_in(table_: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """The row (int64) of each hash in a ``table``, -1 where it has none."""
    if not table_.shape[1] or not len(wanted):
        return np.full(len(wanted), -1, np.int64)
    at = np.minimum(np.searchsorted(table_[0], wanted), table_.shape[1] - 1)
    return np.where(table_[0][at] == wanted, table_[1][at].astype(np.int64), -1)


@dataclass(frozen=True)
class SegmentWords:
    """The hashes of a segment's records' words: record r's are ``hashes[offsets[r]:offsets[r + 1]]``
    (none for a file's record)."""

    offsets: np.ndarray
    """(records + 1,) int64."""
    hashes: np.ndarray
    """uint64, each record's sorted."""

    def of(self, record: int) -> np.ndarray:
        return self.hashes[self.offsets[record]:self.offsets[record + 1]]


def _name(segment_id: str) -> str:
    return f"{segment_id}.{LAYOUT}-{analysis_stamp()}"


def save(folder: Path, segment_id: str, records: int, texts: Iterable[tuple[int, str]]) -> None:
    """Write a segment's words (``texts``: its passages' record numbers and texts), atomically, and
    remove those it had under other rules."""
    counts = np.zeros(records, np.int64)
    parts = []
    for record, text in texts:
        found = of_text(text)
        counts[record] = len(found)
        parts.append((record, found))
    parts.sort(key=lambda part: part[0])
    offsets = np.zeros(records + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    joined = np.concatenate([found for _, found in parts]) if parts else np.zeros(0, np.uint64)

    def write(tmp: Path) -> None:
        tmp.mkdir()
        np.save(tmp / "offsets.npy", offsets, allow_pickle=False)
        np.save(tmp / "hashes.npy", joined.astype(np.uint64), allow_pickle=False)
        checksums.seal_folder(tmp)

    folder.mkdir(exist_ok=True)
    name = _name(segment_id)
    replace_path(folder / name, write)
    for old in [folder / segment_id, *folder.glob(f"{segment_id}.*")]:  # (the first layout had no stamp)
        if old.name != name:
            shutil.rmtree(old, ignore_errors=True)


def load(folder: Path, segment_id: str, records: int) -> SegmentWords | None:
    """A segment's words, memory-mapped; None where it has none under these rules, or they are
    damaged or of another shape (its passages are then aligned from their text, and the next
    indexing run writes them)."""
    path = folder / _name(segment_id)
    if checksums.folder_damaged(path) is not None:
        return None
    try:
        found = SegmentWords(mapped(path / "offsets.npy"), mapped(path / "hashes.npy"))
    except (OSError, ValueError):
        return None
    ok = (found.offsets.dtype == np.int64 and found.offsets.shape == (records + 1,)
          and found.hashes.dtype == np.uint64 and found.hashes.ndim == 1
          and int(found.offsets[0]) == 0 and int(found.offsets[-1]) == len(found.hashes)
          and bool(np.all(np.diff(found.offsets) >= 0)))
    return found if ok else None


def missing(folder: Path, segments: Sequence[tuple[str, int]]) -> list[int]:
    """Which of the segments (id, records) have no words ``load`` can read."""
    return [i for i, (segment_id, records) in enumerate(segments) if load(folder, segment_id, records) is None]
