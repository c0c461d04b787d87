"""Files -> documents: find indexable files under the given paths and decode them.

Handles UTF-8 (with or without BOM), UTF-16, Windows-1251 and KOI8-R, and keeps
only the visible text of HTML. Binary and undecodable files are refused with a
reason, so that the indexer can skip them with a warning.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import os
import re
from collections import Counter
from dataclasses import dataclass, replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Iterator

from ..errors import InputError
from . import archives, formats, mail, ocr, office
from .formats import Undecodable, locations
from .passages import Passage, split_passages

_PLAIN = frozenset({".txt", ".md", ".html", ".htm", *formats.EXTRACTORS})
_OFFICE = frozenset({".xlsx", ".pptx", ".epub", *office.LEGACY})
SUFFIXES = frozenset({*_PLAIN, *archives.SUFFIXES, *mail.SUFFIXES, *ocr.SUFFIXES, *_OFFICE})
_HTML_SUFFIXES = frozenset({".html", ".htm"})
_PAGED = frozenset({"pdf"})
"""Formats whose text is in pages joined by ``formats.PAGE_BREAK``."""
OCR_COST = 32
"""An image's bytes cost this many bytes of text (a 100 KB scan about a second of OCR)."""
MAX_DEPTH = 4
"""Containers (archives, messages) nested deeper than this inside a file are skipped with a note."""


@dataclass(frozen=True, slots=True)
class SourceFile:
    """An indexable file: its path as the user named it, and its identity on disk."""

    path: str
    key: str
    size: int
    mtime_ns: int

    @property
    def name(self) -> str:
        """The path as the index and every output carry it (``printable``)."""
        return printable(self.path)

    @property
    def cost(self) -> int:
        """The work of reading it, in bytes of text that take as long: an image is read by OCR,
        a second or so a page, so a few small scans are worth spreading over the workers."""
        return self.size * OCR_COST if Path(self.path).suffix.lower() in ocr.SUFFIXES else self.size


def printable(path: str) -> str:
    """A path as UTF-8 text: bytes of a name that are not UTF-8 (from another system's encoding,
    which Python keeps as lone surrogates) become \\xNN escapes, as ``ls -b`` shows them."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


@dataclass(frozen=True, slots=True)
class Section:
    """Text read on its own: a whole file's, or one member's of an archive or e-mail."""

    member: str | None
    """Its path inside the file (``nested.zip/deep/note.txt``), None for the file's own text."""
    text: str
    paged: bool
    """Whether the text is in pages (a PDF's, joined by ``formats.PAGE_BREAK``)."""
    rows: bool = False
    """Whether each line is a passage of its own (a sheet's rows), its line the row's number."""

    def passages(self) -> list[tuple[Passage, int, int | None]]:
        """Its passages, each with its line (within its page) and page, offsets into its text."""
        if not self.rows:
            passages = split_passages(self.text)
            return [(passage, line, page) for passage, (line, page)
                    in zip(passages, locations(self.text, [p.start for p in passages], self.paged))]
        found, offset = [], 0
        for number, row in enumerate(self.text.split("\n"), 1):
            found += [(replace(passage, start=passage.start + offset, end=passage.end + offset), number, None)
                      for passage in split_passages(row)]
            offset += len(row) + 1
        return found


@dataclass(frozen=True, slots=True)
class Document:
    """A decoded file: its sections (one, unless it is a container), and notes on members skipped."""

    source: SourceFile
    sections: tuple[Section, ...]
    sha1: str
    encoding: str
    """The text's encoding, or the format it was extracted from ("pdf", "docx", "zip", "eml"...)."""
    notes: tuple[str, ...] = ()
    """Members that could not be read, each with the reason (the file itself was read)."""

    @property
    def text(self) -> str:
        """All its text, sections apart by a blank line."""
        return "\n\n".join(section.text for section in self.sections)


def discover(paths: list[str], unsupported: Counter[str] | None = None) -> Iterator[SourceFile]:
    """The indexable files named by paths, folders searched recursively, in a stable order;
    files of other kinds are counted by suffix in ``unsupported`` (hidden ones are not).

    Raises InputError for a path that does not exist.
    """
    for path in paths:
        if not os.path.exists(path):
            raise InputError(f"no such file or folder: {path}")
    seen: set[str] = set()
    for path in paths:
        for file in _walk(path):
            suffix = Path(file).suffix.lower()
            if not readable(file):
                if unsupported is not None:
                    unsupported[suffix or "(no suffix)"] += 1
                continue
            source = _source(file)
            if source and source.key not in seen:
                seen.add(source.key)
                yield source


def readable(name: str) -> bool:
    """Whether a file or member of this name is read (by its suffix: .tar.xz and the like too)."""
    return Path(name).suffix.lower() in SUFFIXES or archives.kind(name) is not None


def _walk(path: str) -> Iterator[str]:
    if os.path.isfile(path):
        yield path
        return
    for folder, subfolders, files in os.walk(path):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield os.path.join(folder, name)


def _source(path: str) -> SourceFile | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return SourceFile(os.path.normpath(path), printable(os.path.realpath(path)), stat.st_size, stat.st_mtime_ns)


def root_key(path: str) -> str:
    """The identity of a path given to the indexer, to tell which indexed files lie under it."""
    return printable(os.path.realpath(path))


def read(source: SourceFile, data: bytes | None = None) -> Document:
    """Read and decode one file, and the members of an archive or e-mail through the same readers.
    ``data``: the file's bytes, when they were read already (a cluster's worker gets them in its
    task, not seeing the file); without them an archive is streamed from disk, since it may be
    larger than memory. The sha1 is of the same bytes either way. Raises Undecodable or OSError."""
    name = Path(source.path).name
    reader = _Reader()
    suffix = archives.kind(name)
    if suffix and data is None:
        digest = hashlib.sha1()
        with open(source.path, "rb") as stream:
            while chunk := stream.read(archives.CHUNK):
                digest.update(chunk)
            stream.seek(0)
            reader.archive(None, name, stream, source.size, 0)
        sha1, encoding = digest.hexdigest(), suffix[1:]
    else:
        if data is None:
            data = Path(source.path).read_bytes()
        sha1, encoding = hashlib.sha1(data).hexdigest(), reader.file(None, name, data, 0)
    return Document(source, tuple(reader.sections), sha1, encoding, tuple(reader.notes))


class _Reader:
    """Reads a file into sections, recursing into the members of archives and messages; a member
    that cannot be read becomes a note, and the rest of its container is still read."""

    def __init__(self) -> None:
        self.sections: list[Section] = []
        self.notes: list[str] = []

    def file(self, member: str | None, name: str, data: bytes, depth: int) -> str:
        """Add the sections of one file's bytes; returns its encoding or format. Raises Undecodable."""
        suffix = Path(name).suffix.lower()
        container = archives.kind(name)
        if container:
            self.archive(member, name, io.BytesIO(data), len(data), depth)
            return container[1:]
        if suffix == ".mbox":
            for number, raw in enumerate(mail.mbox_messages(data), 1):
                self.inner(_joined(member, f"message {number}"), f"{number}.eml", raw, depth)
            return "mbox"
        if suffix in (".eml", ".msg"):
            message = (mail.parse(data, decode, html_to_text) if suffix == ".eml"
                       else mail.msg_message(data, html_to_text))
            self.sections.append(Section(member, message.text, False))
            for attachment, payload in message.attachments:
                self.inner(_joined(member, attachment), attachment, payload, depth)
            return suffix[1:]
        if suffix == ".xlsx":
            self.sections += [Section(_joined(member, table.name), table.text, False, rows=True)
                              for table in office.xlsx_tables(data)]
            return "xlsx"
        if suffix == ".epub":
            self.sections += [Section(_joined(member, chapter), text, False)
                              for chapter, text in office.epub_chapters(data, html_to_text)]
            return "epub"
        if suffix == ".pptx":
            self.sections.append(Section(member, office.pptx_text(data), True))
            return "pptx"
        if suffix in office.LEGACY:
            self.sections.append(Section(member, office.legacy_text(suffix, data), False))
            return suffix[1:]
        if suffix in ocr.SUFFIXES:
            text = ocr.image_text(data)
            self.sections.append(Section(member, text, formats.PAGE_BREAK in text))
            return suffix[1:]
        if suffix in formats.EXTRACTORS:
            text, encoding = formats.EXTRACTORS[suffix](data), suffix[1:]
        else:
            text, encoding = decode(data)
            if suffix in _HTML_SUFFIXES:
                text = html_to_text(text)
        self.sections.append(Section(member, text, encoding in _PAGED))
        return encoding

    def archive(self, member: str | None, name: str, stream: io.BufferedIOBase | io.BytesIO, size: int,
                depth: int) -> None:
        """Add the sections of an archive's members; a damaged archive keeps those read before the damage."""
        read_before = len(self.sections)
        try:
            for inner, payload in archives.members(name, stream, size, self.notes):
                self.inner(_joined(member, inner), inner, payload, depth)
        except Undecodable as error:
            if member is None and len(self.sections) == read_before:
                raise
            self.notes.append(f"{member or name}: {error}")

    def inner(self, member: str, name: str, data: bytes, depth: int) -> None:
        """Add a member of a container, or a note saying why it was skipped (other kinds: silently)."""
        if not readable(name):
            return
        if depth >= MAX_DEPTH and (archives.kind(name) or Path(name).suffix.lower() in mail.SUFFIXES):
            self.notes.append(f"{member}: skipped, nested more than {MAX_DEPTH} containers deep")
            return
        try:
            self.file(member, name, data, depth + 1)
        except Undecodable as error:
            self.notes.append(f"{member}: {error}")


def _joined(member: str | None, inner: str) -> str:
    return f"{member}/{inner}" if member else inner


_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_CYRILLIC_8BIT = ("cp1251", "koi8_r")


def decode(data: bytes) -> tuple[str, str]:
    """Decode bytes as text; returns (text, encoding name). Raises Undecodable."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return _checked(data.decode(encoding, errors="strict"), encoding)
    utf16 = _utf16_without_bom(data)
    if utf16:
        return _checked(data.decode(utf16, errors="strict"), utf16)
    if b"\x00" in data:
        raise Undecodable("binary file (NUL bytes)")
    try:
        return _checked(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        pass
    return _checked(*_best_cyrillic(data))


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 without a BOM: every other byte is a high byte, 0x00 (Latin) or 0x04 (Cyrillic)."""
    sample = data[:4096]
    if len(sample) < 4 or len(data) % 2:
        return None
    for high, encoding in ((sample[1::2], "utf-16-le"), (sample[0::2], "utf-16-be")):
        if sum(high.count(b) for b in (0x00, 0x04, 0x20)) > 0.9 * len(high) and high.count(0x20) < len(high) / 2:
            try:
                data.decode(encoding)
            except UnicodeDecodeError:
                continue
            return encoding
    return None


def _best_cyrillic(data: bytes) -> tuple[str, str]:
    """Choose between Windows-1251 and KOI8-R: in the right one most letters are lower case."""
    scored = []
    for encoding in _CYRILLIC_8BIT:
        text = data.decode(encoding, errors="replace")
        letters = [c for c in text if "\u0400" <= c <= "\u04ff"]
        lower = sum(c.islower() for c in letters)
        scored.append((lower / (len(letters) or 1), encoding, text))
    _, encoding, text = max(scored)
    return text, encoding


_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


def _checked(text: str, encoding: str) -> tuple[str, str]:
    """Refuse text that decoded but is mostly control characters (a binary file)."""
    sample = text[:4096]
    if sample and len(_CONTROL.findall(sample)) > 0.05 * len(sample):
        raise Undecodable(f"binary file (control characters as {encoding})")
    return text, encoding


_BLOCK_TAGS = frozenset(
    "address article aside blockquote br dd div dl dt figcaption footer form h1 h2 h3 h4 h5 h6 "
    "header hr li main nav ol p pre section table td th tr ul title".split()
)
_HIDDEN_TAGS = frozenset({"script", "style", "noscript", "template", "svg"})


class _VisibleText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN_TAGS:
            self.hidden += 1
        if tag in _BLOCK_TAGS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN_TAGS and self.hidden:
            self.hidden -= 1
        if tag in _BLOCK_TAGS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(re.sub(r"[ \t\r\n\f]+", " ", data))


def html_to_text(html: str) -> str:
    """The visible text of an HTML page, one paragraph per block element."""
    parser = _VisibleText()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts)
    return re.sub(r"[ \t]*\n[\s]*\n\s*", "\n\n", text).strip()
