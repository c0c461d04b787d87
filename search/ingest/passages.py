"""Documents -> passages: the units that are indexed, ranked and shown.

A passage is a paragraph; a long paragraph is cut into windows of whole
sentences, so that each passage reads as a unit (about 1-5 sentences). Offsets
are character offsets into the decoded document text: ``text[start:end]`` is
the passage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

from ..languages import Lang, detect_language
from ..languages.characters import APOSTROPHE, CLOSING_QUOTES, OPENING_QUOTES

MAX_CHARS = 800
"""A paragraph longer than this is cut into sentence windows of at most this size."""
MAX_SENTENCES = 5
HARD_LIMIT = 2000
"""A 'sentence' longer than this (no punctuation at all) is cut at white space."""

_CLOSING = re.escape(CLOSING_QUOTES)
_OPENING = re.escape(OPENING_QUOTES)
# A blank line, a form feed (a PDF's new page), or a line break after sentence-final
# punctuation (or a closing quote that is not an apostrophe), ends a paragraph.
_PARAGRAPH_BREAK = re.compile(
    rf"\n[ \t\r\f\v]*\n\s*|\s*\f\s*|(?<=[.!?\u2026{re.escape(CLOSING_QUOTES.replace(APOSTROPHE, ''))}])[ \t]*\r?\n\s*")
# A sentence ends at . ! ? … (and closing quotes or brackets) before white space and
# a capital, digit or opening quote; one capital letter before the dot is an initial.
_SENTENCE_END = re.compile(
    rf"(?<!\b[A-ZА-ЯЁ])(?<=[.!?\u2026])[{_CLOSING})\]]*\s+(?=[{_OPENING}(\[]?[A-ZА-ЯЁ0-9])"
)
_HAS_WORD = re.compile(r"[^\W_]")


@dataclass(frozen=True, slots=True)
class Passage:
    """One passage of a document."""

    number: int
    start: int
    end: int
    text: str
    lang: Lang


def split_passages(text: str) -> list[Passage]:
    """The passages of a decoded document, numbered from 0, in reading order."""
    spans = (span for para in _paragraphs(text) for span in _windows(text, *para))
    passages = []
    for start, end in spans:
        start, end = _strip(text, start, end)
        chunk = text[start:end]
        if _HAS_WORD.search(chunk):
            passages.append(Passage(len(passages), start, end, chunk, detect_language(chunk)))
    return passages


def sentences(text: str) -> list[str]:
    """The sentences of a passage (for sentence-level vectors)."""
    return [text[a:b] for a, b in (_strip(text, *span) for span in _sentences(text, 0, len(text))) if a < b]


def _paragraphs(text: str) -> Iterator[tuple[int, int]]:
    start = 0
    for match in _PARAGRAPH_BREAK.finditer(text):
        yield start, match.start()
        start = match.end()
    yield start, len(text)


def _windows(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Cut a paragraph into windows of whole sentences, each within the size limits."""
    if end - start <= MAX_CHARS:
        yield start, end
        return
    window_start, count = start, 0
    for sentence_start, sentence_end in _sentences(text, start, end):
        too_long = sentence_end - window_start > MAX_CHARS or count == MAX_SENTENCES
        if count and too_long:
            yield window_start, sentence_start
            window_start, count = sentence_start, 0
        count += 1
    yield window_start, end


def _sentences(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    for match in _SENTENCE_END.finditer(text, start, end):
        yield from _cut_long(text, start, match.start())
        start = match.end()
    yield from _cut_long(text, start, end)


def _cut_long(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Cut text with no sentence punctuation at white space near HARD_LIMIT."""
    while end - start > HARD_LIMIT:
        cut = text.rfind(" ", start, start + HARD_LIMIT)
        cut = cut if cut > start else start + HARD_LIMIT
        yield start, cut
        start = cut
    yield start, end


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
