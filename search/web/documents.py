"""Indexed documents, read whole from a snapshot for the document view.

A document is addressed by an id derived from its identity in the index (the key, its
resolved path), looked up among the files the snapshot holds: a request never names a
path, so nothing outside the index can be shown.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from ..languages import Lang
from ..snapshot import Snapshot
from ..storage.schema import FILE, KEY, KIND

_DOC_ID = re.compile(r"[0-9a-f]{16}")


def doc_id(key: str) -> str:
    """The id of a document in URLs: stable across commits, and no path."""
    return hashlib.sha1(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]


@dataclass(frozen=True)
class Passage:
    number: int
    line: int
    page: int | None
    lang: Lang
    text: str


@dataclass(frozen=True)
class Document:
    id: str
    key: str
    doc: str
    """The path as it was given to ``search index`` (what hits show)."""
    passages: tuple[Passage, ...]

    @property
    def paged(self) -> bool:
        return any(passage.page for passage in self.passages)


class Documents:
    """Finds documents by id in a snapshot; the id -> key table is built once per commit."""

    def __init__(self) -> None:
        self._generation: int | None = None
        self._keys: dict[str, str] = {}

    def find(self, snapshot: Snapshot, wanted: str) -> Document | None:
        """The document with this id in the snapshot, or None (an id of no indexed file, or no id at all)."""
        if not _DOC_ID.fullmatch(wanted):
            return None
        if snapshot.generation != self._generation:
            records = (snapshot.stored(docnum) for docnum in snapshot.scorer.term(KIND, FILE).docnums.tolist())
            self._keys = {doc_id(record[KEY]): record[KEY] for record in records}
            self._generation = snapshot.generation
        key = self._keys.get(wanted)
        if key is None:
            return None
        records = [snapshot.stored(docnum) for docnum in snapshot.scorer.term(KEY, key).docnums.tolist()]
        passages = sorted((Passage(r["passage"], r.get("line", 1), r.get("page"), r["lang"], r["text"])
                           for r in records if "passage" in r), key=lambda passage: passage.number)
        return Document(wanted, key, records[0]["doc"] if records else key, tuple(passages))
