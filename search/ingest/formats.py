"""PDF, DOCX, ODT and RTF files -> their text, in reading order.

A PDF's pages are joined with form feeds (``PAGE_BREAK``), so that a passage's page
and its line within the page can be told from its offset (``locations``). A DOCX or
ODT gives one line per paragraph or heading (table cells included, row by row); an
RTF its text as striprtf reads it, in the code page its header names. A PDF page without a
text layer is rendered and read by OCR (``ocr``). Files without text to
read (an encrypted or damaged PDF, a scanned one when Tesseract is missing) raise
``Undecodable`` with the reason, which the indexer reports and counts as
skipped.

PDF text comes from pypdf (BSD-3). pdfminer.six (MIT) was measured beside it on 37
pages of WMT news, English and Russian, written by fpdf2 in DejaVu Sans: both gave
every word exactly, pypdf in 110 ms, pdfminer.six in 414 ms. (PyMuPDF is AGPL.)
bench/performance.py reports the MB/s of a folder of PDFs.
"""

from __future__ import annotations

import functools
import io
import logging
import re
from typing import Callable

PAGE_BREAK = "\f"


class Undecodable(Exception):
    """A file that is binary, in no encoding we can read, or a document with no text to extract."""


Extract = Callable[[bytes], str]


def _extracting(kind: str) -> Callable[[Extract], Extract]:
    """A parser meeting a damaged file can fail anywhere (zip, zlib, XML, struct, its own errors):
    whatever it raises reaches the indexer as Undecodable, naming the format."""
    def wrap(extract: Extract) -> Extract:
        @functools.wraps(extract)
        def run(data: bytes) -> str:
            try:
                return extract(data)
            except Undecodable:
                raise
            except Exception as error:
                raise Undecodable(f"damaged {kind} ({type(error).__name__})") from None
        return run
    return wrap


@_extracting("PDF")
def pdf_text(data: bytes) -> str:
    """The text layer of each page, pages joined by PAGE_BREAK."""
    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.CRITICAL)  # what it says of odd files is ours to say, once
    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted and not reader.decrypt(""):
        raise Undecodable("encrypted PDF (needs a password)")
    pages = [page.extract_text() or "" for page in reader.pages]
    scanned = [number for number, page in enumerate(pages) if not page.strip()]
    if scanned:
        from . import ocr  # a scanned page is read by OCR (ocr imports this module)

        if ocr.available():
            pages = [*pages]
            for number, text in ocr.pdf_pages(data, scanned).items():
                pages[number] = text
        elif len(scanned) == len(pages):
            raise Undecodable(f"PDF without a text layer (scanned?) {ocr.MISSING}")
        if not any(page.strip() for page in pages):
            raise Undecodable("PDF without a text layer, and OCR found no text on its pages")
    return PAGE_BREAK.join(page.replace(PAGE_BREAK, "\n") for page in pages)


@_extracting("DOCX")
def docx_text(data: bytes) -> str:
    """One line per paragraph, body paragraphs and table cells in document order."""
    from docx import Document
    from docx.table import Table

    lines = []
    for block in Document(io.BytesIO(data)).iter_inner_content():
        if isinstance(block, Table):
            lines += [cell.text for row in block.rows for cell in row.cells]
        else:
            lines.append(block.text)
    return "\n".join(line.replace("\n", " ") for line in lines)


@_extracting("ODT")
def odt_text(data: bytes) -> str:
    """One line per heading and paragraph (those in tables and lists included), in document order."""
    from odfdo import Document

    body = Document(io.BytesIO(data)).body
    lines = [element.text_recursive for element in body.get_elements("descendant::text:h|descendant::text:p")]
    return "\n".join(line.replace("\n", " ") for line in lines)


_CODE_PAGE = re.compile(rb"\\ansicpg(\d+)")


@_extracting("RTF")
def rtf_text(data: bytes) -> str:
    """The text of an RTF file: \\uN escapes as Unicode, \\'hh bytes in the code page of its
    header (\\ansicpg1251 for Russian documents; Windows-1252 when it names none)."""
    from striprtf.striprtf import rtf_to_text

    if not data.lstrip().startswith(b"{\\rtf"):
        raise Undecodable("not an RTF file")
    page = _CODE_PAGE.search(data[:4096])
    encoding = f"cp{int(page.group(1))}" if page else "cp1252"
    return rtf_to_text(data.decode("latin-1"), encoding=encoding, errors="replace")


EXTRACTORS = {".pdf": pdf_text, ".docx": docx_text, ".odt": odt_text, ".rtf": rtf_text}
"""Suffix -> the function giving a file's text from its bytes."""


def locations(text: str, offsets: list[int], paged: bool) -> list[tuple[int, int | None]]:
    """(line, page) of each offset (ascending): the 1-based line (within its page when the text is
    ``paged``, a PDF's), and the 1-based page, or None for text without pages. One pass over the
    text, however many offsets: a long PDF has thousands of passages."""
    found: list[tuple[int, int | None]] = []
    line, page, position = 1, 1, 0
    for offset in offsets:
        if paged:
            breaks = text.count(PAGE_BREAK, position, offset)
            if breaks:
                page += breaks
                position = text.rfind(PAGE_BREAK, position, offset) + 1
                line = 1
        line += text.count("\n", position, offset)
        position = offset
        found.append((line, page if paged else None))
    return found
