"""Records -> a new whoosh segment, written whole from arrays.

whoosh's own writer sends every posting through a pool that pickles it to a
temporary file, sorts and merges the runs, and then reads each document's field
length back for every posting: stock whoosh spends about 40 µs a posting on
the WMT news benchmark. The builder collects each field's term ids in flat
arrays as records arrive, inverts them with one numpy sort when the segment is
finished, and writes each term's postings in one piece (``codec``). A word form
is analysed once per process, however often the corpus repeats it.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field

import numpy as np
from whoosh import fields
from whoosh.codec.whoosh3 import W3Segment
from whoosh.filedb.filestore import Storage

from ..analysis import analyse_form, forms
from .codec import ArrayCodec, ArrayFieldWriter, Postings, TermStats
from .schema import BODY, EXACT, INDEX_NAME, NAMES

MAX_FORMS = 1_000_000
"""Word forms whose analysis a process keeps (a corpus rarely has more)."""

_terms: dict[str, int] = {}
"""Every term this process has met, numbered: a segment's postings are arrays of these numbers."""
_term_list: list[str] = []
_forms: dict[str, tuple[int, tuple[tuple[int, tuple[int, ...], int, tuple[int, ...]], ...]]] = {}
"""Word form -> positions it takes, and (offset, body ids, exact id, name ids) of each word in it."""


def _term_id(term: str) -> int:
    number = _terms.get(term)
    if number is None:
        number = _terms[term] = len(_term_list)
        _term_list.append(term)
    return number


def _analysed(form: str) -> tuple[int, tuple[tuple[int, tuple[int, ...], int, tuple[int, ...]], ...]]:
    """The analysis of a word form as term ids, memoised."""
    found = _forms.get(form)
    if found is None:
        if len(_forms) >= MAX_FORMS:
            _forms.clear()
        terms, width = analyse_form(form)
        found = _forms[form] = (width, tuple(
            (t.offset, tuple(map(_term_id, t.body)), _term_id(t.exact), tuple(map(_term_id, t.names)))
            for t in terms))
    return found


@dataclass
class _Field:
    """One field's postings in the order records were added."""

    terms: array = field(default_factory=lambda: array("I"))
    positions: array | None = None
    ends: array = field(default_factory=lambda: array("I"))
    """Per record: how many postings the field has up to and including it."""


class SegmentBuilder:
    """Builds one segment of an index from records added in order, and writes it on ``finish``."""

    def __init__(self, storage: Storage, schema: fields.Schema, codec: ArrayCodec) -> None:
        self.storage, self.schema, self.codec = storage, schema, codec
        self.segment: W3Segment = codec.new_segment(storage, INDEX_NAME)
        self._perdoc = codec.per_document_writer(storage, self.segment)
        self._fields = {name: _Field(positions=array("I") if schema[name].format.supports("positions") else None)
                        for name, _ in schema.items() if schema[name].indexed}
        self.records = 0

    def add(self, stored: dict, keywords: dict[str, str], text: str | None = None) -> None:
        """Add a record: its stored values, its one-term fields (kind, key, lang) and its text."""
        perdoc, schema = self._perdoc, self.schema
        perdoc.start_doc(self.records)
        for name, value in stored.items():
            perdoc.add_field(name, schema[name], value, 0)
        for name, value in keywords.items():
            self._fields[name].terms.append(_term_id(value))
        if text is not None:
            for name, length in self._add_text(text).items():
                perdoc.add_field(name, schema[name], None, length)
        perdoc.finish_doc()
        for item in self._fields.values():
            item.ends.append(len(item.terms))
        self.records += 1

    def _add_text(self, text: str) -> dict[str, int]:
        body, exact, names = self._fields[BODY], self._fields[EXACT], self._fields[NAMES]
        sizes = (len(body.terms), len(exact.terms), len(names.terms))
        positions = exact.positions
        assert positions is not None
        pos = 0
        for form in forms(text):
            width, words = _analysed(form)
            for offset, lemmas, exact_id, keys in words:
                body.terms.extend(lemmas)
                exact.terms.append(exact_id)
                positions.append(pos + offset)
                names.terms.extend(keys)
            pos += width
        return {name: len(item.terms) - size
                for name, item, size in zip((BODY, EXACT, NAMES), (body, exact, names), sizes)}

    def finish(self) -> W3Segment:
        """Write the segment's files; the segment is then ready to be committed."""
        self._perdoc.close()
        lengths = {name: self._lengths(name) for name in self._fields}  # postings per record
        writer = self.codec.field_writer(self.storage, self.segment)
        try:
            for name in sorted(self._fields):
                if len(self._fields[name].terms):
                    writer.start_field(name, self.schema[name])
                    _write_field(writer, self._fields[name], lengths[name], self.records,
                                 scorable=self.schema[name].scorable)
                    writer.finish_field()
        finally:
            writer.close()
        self.segment.set_doc_count(self.records)
        return self.segment

    def cancel(self) -> None:
        """Close the files; a segment nobody commits is removed by the next writer."""
        if not self._perdoc.is_closed:
            self._perdoc.close()

    def _lengths(self, name: str) -> np.ndarray:
        ends = np.frombuffer(self._fields[name].ends, dtype=np.uint32).astype(np.int64)
        return np.diff(ends, prepend=0)


def _write_field(writer: ArrayFieldWriter, item: _Field, lengths: np.ndarray, records: int, *,
                 scorable: bool) -> None:
    """Invert one field's postings (term, record, position) and write them term by term.

    ``lengths``: each record's number of postings in the field, its length if ``scorable``.
    Everything per term but the writing is computed for all terms at once.
    """
    terms = np.frombuffer(item.terms, dtype=np.uint32)
    records_of = np.repeat(np.arange(records, dtype=np.int64), lengths)
    present = np.unique(terms)
    encoded = [_term_list[number].encode("utf-8") for number in present.tolist()]
    by_bytes = sorted(range(len(encoded)), key=encoded.__getitem__)  # whoosh's term order
    rank = np.empty(len(present), dtype=np.int64)
    rank[by_bytes] = np.arange(len(present))
    keys = rank[np.searchsorted(present, terms)] * records + records_of
    order = np.argsort(keys, kind="stable")  # keeps each record's positions in ascending order
    keys = keys[order]
    starts = np.flatnonzero(np.diff(keys, prepend=-1))  # one posting per (term, record)
    counts = np.diff(starts, append=len(keys)).astype(np.uint32)
    term_ranks, docnums = np.divmod(keys[starts], records)
    term_starts = np.flatnonzero(np.diff(term_ranks, prepend=-1))
    term_ends = np.append(term_starts[1:], len(starts))
    weights = counts.astype("<f4")
    docnums = docnums.astype("<u4")
    posting_lengths = lengths[docnums] if scorable else np.zeros(len(docnums), dtype=np.int64)
    stats = zip(np.add.reduceat(weights, term_starts, dtype=np.float64).tolist(), (term_ends - term_starts).tolist(),
                np.minimum.reduceat(posting_lengths, term_starts).tolist(),
                np.maximum.reduceat(posting_lengths, term_starts).tolist(),
                np.maximum.reduceat(weights, term_starts).tolist(),
                docnums[term_starts].tolist(), docnums[term_ends - 1].tolist())
    positions = np.frombuffer(item.positions, dtype=np.uint32)[order] if item.positions is not None else None
    position_starts = np.append(starts, len(keys)).tolist()
    for t, (a, b, term_stats) in enumerate(zip(term_starts.tolist(), term_ends.tolist(), stats)):
        postings = Postings(docnums[a:b], weights[a:b])
        if positions is not None:
            postings.counts = counts[a:b]
            postings.positions = positions[position_starts[a]:position_starts[b]]
        writer.write_term(encoded[by_bytes[t]], postings.to_bytes(), TermStats(*term_stats))
