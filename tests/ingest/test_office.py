"""Workbooks, slide decks and e-books: a row found with its sheet and row number, a slide with its
number as page, a chapter by its path; damaged ones named and skipped."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Callable

import pytest

from search import Index
from search.ingest import office
from search.ingest.sources import Undecodable, html_to_text

from ..conftest import damaged_copies


def make_xlsx(path: Path) -> Path:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Бюджет"
    sheet.append(["Статья", "Сумма"])
    sheet.append(["Зенитные ракетные комплексы", 120])
    sheet.append([])
    sheet.append(["Submarines for the Pacific fleet", 300])
    book.create_sheet("Exports").append(["India", "air defense systems"])
    book.save(path)
    return path


def make_pptx(path: Path) -> Path:
    from pptx import Presentation

    deck = Presentation()
    for title, body in (("Annual report", "Arms exports grew this year."),
                        ("Шанхайская организация сотрудничества", "Совместные военные учения.")):
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
    deck.slides[1].notes_slide.notes_text_frame.text = "Напомнить о Рособоронэкспорте."
    deck.save(path)
    return path


def make_epub(path: Path) -> Path:
    chapters = {"one.xhtml": "<h1>Глава первая</h1><p>Подводные лодки Тихоокеанского флота.</p>",
                "two.xhtml": "<h1>Chapter two</h1><p>Hypersonic missiles were tested.</p><script>x()</script>"}
    with zipfile.ZipFile(path, "w") as book:
        book.writestr("mimetype", "application/epub+zip")
        book.writestr("META-INF/container.xml", (
            '<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
            '<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
            '</rootfiles></container>'))
        items = "".join(f'<item id="c{n}" href="{name}" media-type="application/xhtml+xml"/>'
                        for n, name in enumerate(chapters))
        spine = "".join(f'<itemref idref="c{n}"/>' for n in range(len(chapters)))
        book.writestr("OEBPS/content.opf", (
            f'<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0">'
            f'<manifest>{items}</manifest><spine>{spine}</spine></package>'))
        for name, body in chapters.items():
            book.writestr(f"OEBPS/{name}", f"<html><body>{body}</body></html>")
    return path


@pytest.fixture()
def documents(tmp_path: Path) -> Path:
    folder = tmp_path / "office"
    folder.mkdir()
    make_xlsx(folder / "budget.xlsx")
    make_pptx(folder / "deck.pptx")
    make_epub(folder / "book.epub")
    return folder


def _hit(index: Index, query: str) -> tuple[str, str | None, int, int | None]:
    hit = index.search(query, limit=1, cross=False).hits[0]
    return Path(hit.doc).name, hit.member, hit.line, hit.page


def test_rows_slides_and_chapters_are_found_where_they_are(tmp_path: Path, documents: Path) -> None:
    with Index(tmp_path / "ix") as index:
        report = index.update([str(documents)], vectors=False)
        assert report.indexed == 3 and not report.skipped
        assert _hit(index, "Зенитные") == ("budget.xlsx", "Бюджет", 2, None)
        assert _hit(index, "Submarines") == ("budget.xlsx", "Бюджет", 4, None)  # row 4: an empty row counts
        assert _hit(index, "India") == ("budget.xlsx", "Exports", 1, None)
        assert _hit(index, "exports grew") == ("deck.pptx", None, 1, 1)
        assert _hit(index, "Шанхайская") == ("deck.pptx", None, 1, 2)
        assert _hit(index, "Рособоронэкспорте") == ("deck.pptx", None, 3, 2)  # the slide's notes
        assert _hit(index, "Тихоокеанского") == ("book.epub", "OEBPS/one.xhtml", 3, None)
        assert _hit(index, "Hypersonic") == ("book.epub", "OEBPS/two.xhtml", 3, None)
        context = index.search("Зенитные", limit=1, cross=False, context=1).hits[0].context
        assert [n.text for n in context[0]] == ["Статья | Сумма"]
        assert [n.text for n in context[1]] == ["Submarines for the Pacific fleet | 300"]  # not the next sheet


@pytest.mark.parametrize("kind", ["xlsx", "pptx", "epub"])
def test_any_damage_to_a_workbook_deck_or_book_is_undecodable_or_read(tmp_path: Path, kind: str) -> None:
    read: Callable[[bytes], object] = {
        "xlsx": office.xlsx_tables, "pptx": office.pptx_text,
        "epub": lambda data: office.epub_chapters(data, html_to_text)}[kind]
    data = {"xlsx": make_xlsx, "pptx": make_pptx, "epub": make_epub}[kind](tmp_path / f"a.{kind}").read_bytes()
    for damaged in damaged_copies(data, seed=13, copies=100, flips=20):
        try:
            read(damaged)
        except Undecodable:
            pass


def test_a_damaged_workbook_is_named_in_a_warning_and_skipped(tmp_path: Path, documents: Path) -> None:
    (documents / "broken.xlsx").write_bytes(b"PK\x03\x04 not a workbook")
    warnings: list[str] = []
    report = Index(tmp_path / "ix").update([str(documents)], vectors=False, warn=warnings.append)
    assert report.indexed == 3 and [Path(path).name for path, _ in report.skipped] == ["broken.xlsx"]
    assert any("broken.xlsx: damaged workbook" in warning for warning in warnings)


@pytest.mark.skipif(".doc" not in office.LEGACY, reason="neither antiword nor catdoc is installed")
def test_a_damaged_doc_is_undecodable() -> None:
    with pytest.raises(Undecodable, match="damaged doc"):
        office.legacy_text(".doc", b"\xd0\xcf\x11\xe0 not a Word document")


def test_the_deck_text_is_one_page_per_slide(tmp_path: Path) -> None:
    pages = office.pptx_text(make_pptx(tmp_path / "d.pptx").read_bytes()).split("\f")
    assert pages == ["Annual report\nArms exports grew this year.",
                     "Шанхайская организация сотрудничества\nСовместные военные учения.\nНапомнить о Рособоронэкспорте."]
