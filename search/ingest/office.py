"""Workbooks, slide decks, e-books and old Word and Excel files -> their text.

An .xlsx (openpyxl, read-only: rows stream, a large sheet is never whole in memory) gives a
table per sheet, a line per row, each row its own passage (``Table``). A .pptx (python-pptx)
gives its slides' text and notes, slides as pages. An .epub its chapters' visible text in
reading order (its spine). .doc and .xls are read only through Debian's antiword or catdoc
programs, when installed; without them they are files of an unsupported kind.
"""

from __future__ import annotations

import io
import posixpath
import shutil
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass
from typing import Callable
from xml.etree import ElementTree

from .formats import PAGE_BREAK, Undecodable


@dataclass(frozen=True, slots=True)
class Table:
    """One sheet: its name, and a line per row (an empty line for an empty row, so lines are rows)."""

    name: str
    text: str


def _damaged(kind: str, error: Exception) -> Undecodable:
    return Undecodable(f"damaged {kind} ({type(error).__name__})")


def xlsx_tables(data: bytes) -> list[Table]:
    """Each sheet's rows, cells apart by " | " (formulas by their last computed values)."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            tables = []
            for sheet in book.worksheets:
                rows = [" | ".join(str(cell) for cell in row if cell is not None and str(cell).strip())
                        for row in sheet.iter_rows(values_only=True)]
                tables.append(Table(sheet.title, "\n".join(" ".join(row.split()) for row in rows)))
            return tables
        finally:
            book.close()
    except Exception as error:  # a damaged workbook fails anywhere (zip, XML, openpyxl's own checks)
        raise _damaged("workbook", error) from None


def pptx_text(data: bytes) -> str:
    """Each slide's text (shapes, groups and tables in order, then its notes), slides joined by PAGE_BREAK."""
    from pptx import Presentation

    try:
        slides = []
        for slide in Presentation(io.BytesIO(data)).slides:
            lines = [line for shape in slide.shapes for line in _shape_lines(shape)]
            if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
                lines.append(slide.notes_slide.notes_text_frame.text)
            slides.append("\n".join(" ".join(line.split()) for line in lines if line.strip()))
        return PAGE_BREAK.join(slides)
    except Exception as error:
        raise _damaged("presentation", error) from None


def _shape_lines(shape) -> list[str]:  # type: ignore[no-untyped-def]
    if getattr(shape, "shapes", None) is not None:  # a group
        return [line for inner in shape.shapes for line in _shape_lines(inner)]
    if getattr(shape, "has_table", False):
        return [cell.text for row in shape.table.rows for cell in row.cells]
    if getattr(shape, "has_text_frame", False):
        return [paragraph.text for paragraph in shape.text_frame.paragraphs]
    return []


_OPF = "{http://www.idpf.org/2007/opf}"
_CONTAINER = "{urn:oasis:names:tc:opendocument:xmlns:container}"


def epub_chapters(data: bytes, html_to_text: Callable[[str], str]) -> list[tuple[str, str]]:
    """(chapter path, visible text) in the order of the book's spine."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as book:
            container = ElementTree.fromstring(book.read("META-INF/container.xml"))
            rootfile = container.find(f".//{_CONTAINER}rootfile")
            opf_path = rootfile.get("full-path") if rootfile is not None else None
            if not opf_path:
                raise Undecodable("e-book without a package file (not an EPUB?)")
            opf = ElementTree.fromstring(book.read(opf_path))
            folder = posixpath.dirname(opf_path)
            items = {item.get("id"): item.get("href") for item in opf.iter(f"{_OPF}item")}
            chapters = []
            for ref in opf.iter(f"{_OPF}itemref"):
                href = items.get(ref.get("idref"))
                if href:
                    path = posixpath.normpath(posixpath.join(folder, href))
                    chapters.append((path, html_to_text(book.read(path).decode("utf-8", errors="replace"))))
            return chapters
    except Undecodable:
        raise
    except Exception as error:
        raise _damaged("e-book", error) from None


def _legacy_commands() -> dict[str, list[str]]:
    """The programs that read .doc and .xls here, by suffix (antiword before catdoc for .doc)."""
    commands = {}
    if shutil.which("antiword"):
        commands[".doc"] = ["antiword", "-m", "UTF-8.txt"]
    elif shutil.which("catdoc"):
        commands[".doc"] = ["catdoc", "-d", "utf-8"]
    if shutil.which("xls2csv"):
        commands[".xls"] = ["xls2csv", "-d", "utf-8"]
    return commands


LEGACY = _legacy_commands()
"""Suffix -> the command reading such a file (.doc, .xls), for those installed."""


def legacy_text(suffix: str, data: bytes) -> str:
    """A .doc or .xls file's text, by the program that reads it. The programs read files only
    (xls2csv fails on a pipe), so the bytes pass through a temporary file, removed at once."""
    with tempfile.NamedTemporaryFile(suffix=suffix) as file:
        file.write(data)
        file.flush()
        run = subprocess.run([*LEGACY[suffix], file.name], capture_output=True, timeout=300)
    if run.returncode != 0:
        raise Undecodable(f"damaged {suffix[1:]} ({LEGACY[suffix][0]} failed)")
    return run.stdout.decode("utf-8", errors="replace")
