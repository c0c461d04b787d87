"""What an index holds: its records, their fields, and the whoosh schema that declares them.

Two kinds of record: one per passage (its text fields and where it comes from),
and one per indexed file (size, mtime and hash, to keep the index in sync).
"""

from __future__ import annotations

from typing import Any, Iterator

from whoosh import fields
from whoosh.analysis import Analyzer, Token

from ..analysis import analyse
from .codec import ArrayPositions

INDEX_NAME = "passages"
FORMAT = 3
"""The layout of an index folder; an index of another format must be rebuilt."""

BODY, EXACT, NAMES = "body", "exact", "names"
"""The text fields: every lemma or stem (ranked matching), the exact forms with positions
(=word and "phrases"), and the phonetic keys of names."""
TEXT_FIELDS = (BODY, EXACT, NAMES)
KIND, KEY, LANG = "kind", "key", "lang"
"""The fields a record is found by: its kind, its file's key, its language."""
PASSAGE, FILE = "passage", "file"
"""The two kinds of record."""


def schema() -> fields.Schema:
    """Passage records carry the text fields; file records carry size, mtime and hash (``stamp``)."""
    return fields.Schema(**{
        KIND: fields.ID(),
        KEY: fields.ID(stored=True),
        LANG: fields.ID(stored=True),
        "doc": fields.STORED(),
        "passage": fields.STORED(),
        "start": fields.STORED(),
        "end": fields.STORED(),
        "line": fields.STORED(),
        "page": fields.STORED(),
        "member": fields.STORED(),  # the path inside an archive or e-mail; absent in indexes before it
        "text": fields.STORED(),
        "stamp": fields.STORED(),
        BODY: fields.TEXT(analyzer=FieldAnalyzer(BODY), phrase=False),
        EXACT: _positional(fields.TEXT(analyzer=FieldAnalyzer(EXACT), phrase=True)),
        NAMES: fields.TEXT(analyzer=FieldAnalyzer(NAMES), phrase=False),
    })


def _positional(field: fields.TEXT) -> fields.TEXT:
    field.format = ArrayPositions(field_boost=field.format.field_boost)
    return field


class FieldAnalyzer(Analyzer):
    """The analyzer whoosh keeps for a text field: this package's analysis of one field.

    Indexing builds segments from the analysis directly (``segments``); this is
    what whoosh itself uses if asked to analyse a value.
    """

    def __init__(self, field: str) -> None:
        self.field = field

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FieldAnalyzer) and other.field == self.field

    def __hash__(self) -> int:
        return hash(self.field)

    def __call__(self, value: str, positions: bool = False, chars: bool = False,
                 keeporiginal: bool = False, removestops: bool = True, start_pos: int = 0,
                 start_char: int = 0, tokenize: bool = True, mode: str = "",
                 **kwargs: Any) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        for term, pos in getattr(analyse(value), self.field):
            token.text = term
            token.boost = 1.0
            token.stopped = False
            if positions:
                token.pos = start_pos + pos
            yield token
