"""A whoosh codec whose postings are plain arrays: written a term at a time, read by numpy, never pickled.

whoosh's own W3 codec pickles and compresses every block of 128 postings, and
pickles the positions of every posting: writing the WMT news benchmark spent
most of its time there, and reading a frequent term's postings back cost a
pickle load per block. This codec keeps whoosh's files, term index, segments
and readers, and changes what a term's postings are:

    header   b"SAP1", postings n, positions m        (little-endian uint32s)
    docnums  n uint32, ascending
    weights  n float32 (term frequencies)
    counts   n uint32, then positions m uint32       (fields with positions only)

so the BM25F scorer (``scoring``) reads a term as two numpy arrays, and a
segment is written from arrays built by ``segments`` without a Python call per
posting. whoosh's own matchers still serve every query it runs (phrases,
prefixes, boolean logic) through a ListMatcher over the same arrays.

Stored fields are JSON, not pickles: what an index folder holds is data, never
code (see ``safety``).
"""

from __future__ import annotations

import hashlib
import json
import mmap
import struct
from array import array
from typing import Any, Iterator, NamedTuple, Sequence

import numpy as np
from whoosh import columns, formats
from whoosh.codec.whoosh3 import (
    W3Codec,
    W3FieldWriter,
    W3PerDocReader,
    W3PerDocWriter,
    W3TermInfo,
    W3TermsReader,
)
from whoosh.matching import ListMatcher
from whoosh.reading import TermNotFound
from whoosh.system import pack_int, pack_long, pack_uint, pack_ushort
from whoosh.util.numeric import _length_byte_cache, length_to_byte

MAGIC = b"SAP1"
_HEADER = struct.Struct("<4sII")
BYTE_LENGTHS = np.frombuffer(_length_byte_cache, dtype=np.int32).astype(np.float64)
"""whoosh stores field lengths as one byte each: byte -> the length it stands for."""


class ArrayPositions(formats.Positions):
    """Positions as a count and an array of uint32s (whoosh's own pickles them)."""

    def encode(self, poslist: Sequence[int]) -> bytes:
        return pack_uint(len(poslist)) + array("I", poslist).tobytes()

    def decode_positions(self, valuestring: bytes) -> list[int]:
        positions = array("I")
        positions.frombytes(valuestring[4:])
        return positions.tolist()


class _VarBytes(columns.VarBytesColumn):
    """whoosh's column of byte strings, read with numpy where it stored no offsets: whoosh then
    sums the records' lengths in a Python loop, 7-10 ms of a first query on the 1x WMT index."""

    class Reader(columns.VarBytesColumn.Reader):
        def _read_offsets_and_lengths(self) -> None:
            last = self._basepos + self._length - 1
            code = chr(self._dbfile.get_byte(last))
            if code == "X":  # the offsets were stored: whoosh reads them in one piece
                super()._read_offsets_and_lengths()
                return
            lengths = self._dbfile.get_array(last - struct.calcsize(code) * self._doccount, code, self._doccount)
            summed = np.zeros(self._doccount, dtype=np.int64)
            np.cumsum(np.asarray(lengths, dtype=np.int64)[:-1], out=summed[1:])
            self._offsets, self._lengths = array("q", summed.tobytes()), lengths


class JsonColumn(columns.WrappedColumn):
    """Stored fields as JSON (whoosh's own column pickles them)."""

    def __init__(self) -> None:
        super().__init__(_VarBytes())

    class Writer(columns.WrappedColumnWriter):
        def add(self, docnum: int, value: Any) -> None:
            encoded = b"" if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
            self._child.add(docnum, encoded)

    class Reader(columns.WrappedColumnReader):
        def __getitem__(self, docnum: int) -> Any:
            encoded = self._child[docnum]
            return json.loads(encoded) if encoded else None


STORED = JsonColumn()


class Postings:
    """One term's postings in one segment: docnums, weights and, for positional fields, positions."""

    __slots__ = ("docnums", "weights", "counts", "positions")

    def __init__(self, docnums: np.ndarray, weights: np.ndarray, counts: np.ndarray | None = None,
                 positions: np.ndarray | None = None) -> None:
        self.docnums, self.weights, self.counts, self.positions = docnums, weights, counts, positions

    def to_bytes(self) -> bytes:
        """The layout above (arrays of the dtypes ``from_bytes`` reads are written as they are)."""
        parts = [_HEADER.pack(MAGIC, len(self.docnums), 0 if self.positions is None else len(self.positions)),
                 self.docnums.astype("<u4", copy=False).tobytes(), self.weights.astype("<f4", copy=False).tobytes()]
        if self.positions is not None and self.counts is not None:
            parts += [self.counts.astype("<u4", copy=False).tobytes(), self.positions.astype("<u4", copy=False).tobytes()]
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, data: bytes) -> "Postings":
        magic, n, m = _HEADER.unpack_from(data)
        if magic != MAGIC or len(data) != _HEADER.size + 8 * n + (4 * (n + m) if m else 0):
            raise ValueError("postings are not in this codec's format")
        at = _HEADER.size
        docnums = np.frombuffer(data, "<u4", n, at)
        weights = np.frombuffer(data, "<f4", n, at + 4 * n)
        if not m:
            return cls(docnums, weights)
        counts = np.frombuffer(data, "<u4", n, at + 8 * n)
        return cls(docnums, weights, counts, np.frombuffer(data, "<u4", m, at + 12 * n))

    def values(self, format_: formats.Format) -> Sequence[bytes] | None:
        """Each posting's value as whoosh's matchers read it (positions, encoded by ``format_``)."""
        if self.positions is None or self.counts is None:
            return None
        return _EncodedPositions(format_, self.counts, self.positions)


class _EncodedPositions(Sequence[bytes]):
    """Posting values encoded lazily: a phrase query reads the positions of few postings."""

    def __init__(self, format_: formats.Format, counts: np.ndarray, positions: np.ndarray) -> None:
        self._format, self._counts = format_, counts
        self._starts = np.concatenate(([0], np.cumsum(counts, dtype=np.int64)))
        self._positions = positions

    def __len__(self) -> int:
        return len(self._counts)

    def __getitem__(self, i: int) -> bytes:  # type: ignore[override]
        return self._format.encode(self._positions[self._starts[i]:self._starts[i + 1]].tolist())


class ArrayCodec(W3Codec):
    """whoosh's W3 files with array postings and JSON stored fields."""

    def field_writer(self, storage, segment) -> "ArrayFieldWriter":  # type: ignore[no-untyped-def]
        return ArrayFieldWriter(self, storage, segment)

    def per_document_writer(self, storage, segment) -> "ArrayPerDocWriter":  # type: ignore[no-untyped-def]
        return ArrayPerDocWriter(self, storage, segment)

    def per_document_reader(self, storage, segment) -> "ArrayPerDocReader":  # type: ignore[no-untyped-def]
        return ArrayPerDocReader(storage, segment)

    def terms_reader(self, storage, segment) -> "ArrayTermsReader":  # type: ignore[no-untyped-def]
        name = segment.make_filename(self.TERMS_EXT)
        return ArrayTermsReader(self, storage.open_file(name), storage.file_length(name),
                                segment.open_file(storage, self.POSTS_EXT))

    def postings_reader(self, dbfile, terminfo, format_, term=None, scorer=None) -> ListMatcher:  # type: ignore[no-untyped-def]
        postings = read_postings(dbfile, terminfo)
        return ListMatcher(postings.docnums.tolist(), postings.weights.tolist(), postings.values(format_),
                           format_, scorer=scorer, term=term, terminfo=terminfo)


def read_postings(dbfile, terminfo: W3TermInfo) -> Postings:  # type: ignore[no-untyped-def]
    offset, length = terminfo.extent()
    if isinstance(length, tuple):  # whoosh's W3TermInfo.from_bytes keeps struct.unpack's tuple
        (length,) = length
    return Postings.from_bytes(dbfile.get(offset, length))


class ArrayFieldWriter(W3FieldWriter):
    """Writes each term's postings as arrays: whole (``write_term``), or posting by posting as
    whoosh's merges and writers add them."""

    def start_term(self, btext: bytes) -> None:
        self._btext = btext
        self._pending: tuple[list[int], list[float], list[bytes], list[int]] = ([], [], [], [])

    def add(self, docnum: int, weight: float, vbytes: bytes, length: int) -> None:
        for items, item in zip(self._pending, (docnum, weight, vbytes, length)):
            items.append(item)

    def finish_term(self) -> None:
        docnums, weights, values, lengths = self._pending
        counts = positions = None
        if self._format.supports("positions"):
            decoded = [self._format.decode_positions(value) for value in values]
            counts = np.array([len(p) for p in decoded], dtype=np.uint32)
            positions = np.array([q for p in decoded for q in p], dtype=np.uint32)
        postings = Postings(np.array(docnums, np.uint32), np.array(weights, np.float32), counts, positions)
        self.write_term(self._btext, postings.to_bytes(), TermStats(
            float(postings.weights.sum()), len(docnums), min(lengths), max(lengths), float(postings.weights.max()),
            docnums[0], docnums[-1]))

    def write_term(self, btext: bytes, postings: bytes, stats: "TermStats") -> None:
        """Write one term of the current field (terms in ascending byte order): its encoded
        postings, and the statistics whoosh keeps in its term info."""
        offset = self._postfile.tell()
        self._postfile.write(postings)
        info = _TERM_INFO.pack(0, stats.weight, stats.postings, length_to_byte(stats.min_length),
                               length_to_byte(stats.max_length), stats.max_weight, stats.first, stats.last)
        self._tindex.add(pack_ushort(self._fieldid) + btext, info + pack_long(offset) + pack_int(len(postings)))


class TermStats(NamedTuple):
    """What whoosh's term info holds besides where the postings are."""

    weight: float
    postings: int
    min_length: int
    max_length: int
    max_weight: float
    first: int
    last: int


_TERM_INFO = W3TermInfo._struct
_SLOT = struct.Struct("!Iq")
_LENGTHS = struct.Struct("!ii")
"""whoosh's hash table: a slot is a key's hash and where its item starts; an item starts with
the key's and the value's lengths."""
_DOC_FREQUENCY = struct.Struct("!I")
"""whoosh's own layout of a term info: flags (0: not inlined), total weight, doc frequency,
min and max length (as bytes), max weight, first and last docnum; then offset and length."""


class ArrayTermsReader(W3TermsReader):
    """whoosh's term index, its look-ups read straight from the mapped file: whoosh's own path
    (a generator, a hex digest parsed back, a slice per field) took 15 µs a term, and a new
    headline looks up some 140 terms (their translations among them)."""

    def __init__(self, codec, dbfile, length, postfile) -> None:  # type: ignore[no-untyped-def]
        super().__init__(codec, dbfile, length, postfile)
        self._map = dbfile.file if isinstance(dbfile.file, mmap.mmap) else None
        self._fieldkeys = {name: pack_ushort(number) for name, number in self._fieldmap.items()}

    def _find(self, fieldname: str, tbytes: bytes) -> tuple[int, int] | None:
        """Where a term's info starts in the term index and its length; None if absent. whoosh's
        ``HashReader.ranges_for_key`` over the map: md5 buckets, linear probing."""
        prefix = self._fieldkeys.get(fieldname)
        if prefix is None:
            return None
        key = prefix + tbytes
        if self._map is None:
            try:
                return self._range_for_key(fieldname, tbytes)
            except KeyError:
                return None
        mapped = self._map
        keyhash = int.from_bytes(hashlib.md5(key).digest()[12:], "big")
        start, slots = self._tindex.tables[keyhash & 255]
        if not slots:
            return None
        end = start + slots * _SLOT.size
        slot = start + ((keyhash >> 8) % slots) * _SLOT.size
        for _ in range(slots):
            slot_hash, item = _SLOT.unpack_from(mapped, slot)
            if not item:
                return None
            if slot_hash == keyhash:
                key_length, data_length = _LENGTHS.unpack_from(mapped, item)
                begin = item + _LENGTHS.size
                if key_length == len(key) and mapped[begin:begin + key_length] == key:
                    return begin + key_length, data_length
            slot += _SLOT.size
            if slot == end:
                slot = start
        return None

    def term_info(self, fieldname: str, tbytes: bytes) -> W3TermInfo:  # type: ignore[override]
        found = self._find(fieldname, tbytes)
        if found is None:
            raise TermNotFound(f"No term {fieldname}:{tbytes!r}")
        position, length = found
        return W3TermInfo.from_bytes(self._dbfile.get(position, length))

    def doc_frequency(self, fieldname: str, tbytes: bytes) -> int:  # type: ignore[override]
        found = self._find(fieldname, tbytes)
        if found is None:
            raise KeyError(tbytes)
        return _DOC_FREQUENCY.unpack(self._dbfile.get(found[0] + 5, 4))[0]

    def doc_frequencies(self, fieldname: str, start: bytes = b"") -> Iterator[tuple[bytes, int]]:
        """The terms of a field from ``start`` on, in order, and how many records hold each,
        read straight from the term index."""
        if fieldname not in self._fieldmap:
            return
        field = pack_ushort(self._fieldmap[fieldname])
        for key, value in self._tindex.items_from(field + start):
            if not key.startswith(field):
                return  # the next field's terms
            yield key[len(field):], _DOC_FREQUENCY.unpack_from(value, 5)[0]  # after flags and weight

    def postings(self, fieldname: str, tbytes: bytes) -> Postings | None:
        """A term's postings as arrays, or None if the segment does not have it."""
        try:
            info = self.term_info(fieldname, tbytes)
        except TermNotFound:
            return None
        return read_postings(self._postfile, info)


class ArrayPerDocWriter(W3PerDocWriter):
    def _create_column(self, fieldname: str, column: columns.Column) -> None:
        super()._create_column(fieldname, STORED if fieldname == "_stored" else column)


class ArrayPerDocReader(W3PerDocReader):
    def stored_fields(self, docnum: int) -> dict:
        return self._cached_reader("_stored", STORED)[docnum] or {}

    def stored_many(self, docnums: Sequence[int]) -> list[dict]:
        """Several records' stored fields, their bytes read in one piece (docnums ascending)."""
        if not docnums:
            return []
        column = self._cached_reader("_stored", STORED)._child  # whoosh's VarBytesColumn reader
        offsets, lengths = column._offsets, column._lengths
        start = offsets[docnums[0]]
        data = column._dbfile.get(column._basepos + start, offsets[docnums[-1]] + lengths[docnums[-1]] - start)
        return [json.loads(data[offsets[d] - start:offsets[d] - start + lengths[d]]) if lengths[d] else {}
                for d in docnums]

    def field_lengths(self, fieldname: str) -> np.ndarray:
        """Every document's length in a field, as BM25F reads it (whoosh's one-byte approximation)."""
        codes = np.zeros(self._doccount, dtype=np.uint8)
        name = f"_{fieldname}_len"
        if self.has_column(name):
            colfile, offset, length = self._get_column_file(name)
            try:
                stored = np.frombuffer(colfile.get(offset, length), dtype=np.uint8)
            finally:
                colfile.close()
            codes[:len(stored)] = stored[:self._doccount]
        return BYTE_LENGTHS[codes]
