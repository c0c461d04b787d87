"""PDF, DOCX, ODT and RTF files: their text in both languages, where each hit is (page, line), and
the files that cannot be read named and counted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from search import Index
from search.ingest.formats import (
    PAGE_BREAK,
    Undecodable,
    docx_text,
    locations,
    odt_text,
    pdf_text,
    rtf_text,
)

from ..conftest import ROOT

FONTS = [Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")]
PAGES = [
    ["Annual report on arms exports.",
     "Rosoboronexport signed a contract for air defense systems with India."],
    ["Годовой отчёт об экспорте вооружений.",
     "Рособоронэкспорт подписал контракт на поставку зенитных ракетных комплексов.",
     "Шанхайская организация сотрудничества провела совместные военные учения."],
    ["Submarines and naval cooperation.", "The navy received two new submarines this year."],
]


def _font() -> Path:
    """A TrueType font with Cyrillic letters: Debian's DejaVu, or the copy matplotlib ships."""
    try:
        import matplotlib

        FONTS.append(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf")
    except ImportError:
        pass
    found = next((font for font in FONTS if font.exists()), None)
    if found is None:
        pytest.fail("no Cyrillic TrueType font: install fonts-dejavu-core or matplotlib")
    return found


def make_pdf(path: Path, pages: list[list[str]], *, password: str | None = None) -> Path:
    """A PDF with a text layer: each page its lines, one line each, in DejaVu Sans."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_font("DejaVu", fname=str(_font()))
    pdf.set_font("DejaVu", size=11)
    for lines in pages:
        pdf.add_page()
        for line in lines:
            pdf.multi_cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    if password:
        pdf.set_encryption(owner_password="owner", user_password=password)
    pdf.output(str(path))
    return path


def make_docx(path: Path, paragraphs: list[str]) -> Path:
    from docx import Document

    document = Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = "Подводные лодки", "Submarines"
    document.save(str(path))
    return path


def make_odt(path: Path, heading: str, paragraphs: list[str]) -> Path:
    from odfdo import Document, Header, Paragraph

    document = Document("text")
    document.body.clear()
    document.body.append(Header(1, heading))
    for paragraph in paragraphs:
        document.body.append(Paragraph(paragraph))
    document.save(str(path))
    return path


RTF = (r"{\rtf1\ansi\ansicpg1251\deff0{\fonttbl{\f0 Times New Roman;}}\f0 "
       r"\'cf\'ee\'e4\'e2\'ee\'e4\'ed\'fb\'e5 \'eb\'ee\'e4\'ea\'e8 \u1074?\u1099?\u1096?\u1083?\u1080? "
       r"\u1074? \u1084?\u1086?\u1088?\u1077?.\par Submarines put to sea.\par}")
"""Word's way: Windows-1251 bytes (подводные лодки), then \\uN escapes (вышли в море)."""


@pytest.fixture()
def documents(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    make_pdf(folder / "report.pdf", PAGES)
    make_docx(folder / "notes.docx", ["Военно-техническое сотрудничество России и Китая.",
                                      "Military technical cooperation between Russia and China."])
    make_odt(folder / "brief.odt", "Briefing", ["Новые ледоколы вышли в Арктику.",
                                                 "New icebreakers sailed for the Arctic."])
    (folder / "memo.rtf").write_bytes(RTF.encode("ascii"))
    return folder


def test_pdf_text_keeps_both_languages_page_by_page(tmp_path: Path) -> None:
    pages = pdf_text(make_pdf(tmp_path / "a.pdf", PAGES).read_bytes()).split(PAGE_BREAK)
    assert len(pages) == 3
    for text, lines in zip(pages, PAGES):
        assert " ".join(text.split()) == " ".join(" ".join(lines).split())


def test_docx_text_is_one_line_per_paragraph_and_table_cell(tmp_path: Path) -> None:
    text = docx_text(make_docx(tmp_path / "a.docx", ["Первый абзац.", "Second paragraph."]).read_bytes())
    assert text.splitlines() == ["Первый абзац.", "Second paragraph.", "Подводные лодки", "Submarines"]


def test_odt_text_is_one_line_per_heading_and_paragraph(tmp_path: Path) -> None:
    path = make_odt(tmp_path / "a.odt", "Годовой отчёт", ["Рособоронэкспорт подписал контракт.", "Second."])
    assert odt_text(path.read_bytes()).splitlines() == ["Годовой отчёт", "Рособоронэкспорт подписал контракт.",
                                                        "Second."]


def test_rtf_text_reads_code_page_bytes_and_unicode_escapes() -> None:
    assert rtf_text(RTF.encode("ascii")).splitlines() == ["Подводные лодки вышли в море.", "Submarines put to sea."]
    with pytest.raises(Undecodable, match="not an RTF"):
        rtf_text(b"plain text")


def test_a_location_is_a_line_within_a_page() -> None:
    text = f"one\ntwo{PAGE_BREAK}three\nfour\nfive{PAGE_BREAK}{PAGE_BREAK}six\nseven"
    offsets = [text.index(word) for word in ("one", "two", "three", "five", "six", "seven")]
    assert locations(text, offsets, paged=True) == [(1, 1), (2, 1), (1, 2), (3, 2), (1, 4), (2, 4)]
    assert locations("a\nb\nc", [0, 4], paged=False) == [(1, None), (3, None)]


@pytest.mark.parametrize(("damage", "reason"), [
    ("truncated", "damaged PDF"), ("encrypted", "encrypted PDF"), ("scanned", "without a text layer")])
def test_unreadable_pdfs_are_named_in_a_warning_and_counted_as_skipped(tmp_path: Path, damage: str,
                                                                       reason: str) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    path = folder / f"{damage}.pdf"
    if damage == "truncated":
        data = make_pdf(tmp_path / "whole.pdf", PAGES).read_bytes()
        path.write_bytes(data[: len(data) // 3])
    else:
        make_pdf(path, PAGES if damage == "encrypted" else [[]], password="secret" if damage == "encrypted" else None)
    with pytest.raises(Undecodable, match=reason):
        pdf_text(path.read_bytes())
    warnings: list[str] = []
    report = Index(tmp_path / "ix").update([str(folder)], vectors=False, warn=warnings.append)
    assert report.skipped == [(str(path), next(w for w in warnings if str(path) in w).split(": ", 1)[1])]
    assert any(reason in w and str(path) in w for w in warnings)


def test_hits_in_pdf_and_docx_carry_page_and_line(tmp_path: Path, documents: Path) -> None:
    with Index(tmp_path / "ix") as index:
        index.update([str(documents)])
        hits = index.search("Рособоронэкспорт", lang="ru").hits
        assert (Path(hits[0].doc).name, hits[0].page) == ("report.pdf", 2)
        assert hits[0].text.startswith("Рособоронэкспорт") and hits[0].line == 2
        english = index.search("navy submarines", lang="en").hits[0]
        assert (Path(english.doc).name, english.page) == ("report.pdf", 3)
        docx = index.search("=Military technical cooperation").hits[0]
        assert (Path(docx.doc).name, docx.page, docx.line) == ("notes.docx", None, 2)
        odt = index.search("icebreakers", lang="en").hits[0]
        assert (Path(odt.doc).name, odt.page, odt.line) == ("brief.odt", None, 3)
        rtf = index.search("submarines put to sea", lang="ru").hits[0]
        assert (Path(rtf.doc).name, rtf.line) == ("memo.rtf", 1) and "лодки" in rtf.text
        cross = index.search("joint military exercises of the Shanghai Cooperation Organisation", lang="ru").hits[0]
        assert (Path(cross.doc).name, cross.page) == ("report.pdf", 2) and "Шанхайская" in cross.text
        assert json.loads(json.dumps(cross.to_json()))["page"] == 2


def test_a_changed_pdf_is_indexed_again_and_a_deleted_one_removed(tmp_path: Path, documents: Path) -> None:
    index = Index(tmp_path / "ix")
    index.update([str(documents)], vectors=False)
    make_pdf(documents / "report.pdf", [["Hypersonic missiles were tested in the Arctic."]])
    report = index.update([str(documents)], vectors=False)
    assert report.updated == 1
    assert index.search("hypersonic").hits and not index.search("Rosoboronexport").hits
    (documents / "report.pdf").unlink()
    assert index.update([str(documents)], vectors=False).removed == 1
    assert not index.search("hypersonic").hits


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "search", *args], cwd=ROOT, capture_output=True, text=True)


def test_the_command_line_names_hits_as_path_line_and_counts_unsupported_files(tmp_path: Path,
                                                                              documents: Path) -> None:
    for name in ("sheet.numbers", "other.numbers", "photo.psd"):
        (documents / name).write_bytes(b"\x00binary")
    built = _cli("index", str(documents), "--index", str(tmp_path / "ix"), "--no-vectors")
    assert built.returncode == 0 and "skipped 3 files (.numbers 2, .psd 1)" in built.stderr
    found = _cli("query", "Рособоронэкспорт", "--index", str(tmp_path / "ix"), "--lang", "ru", "-C", "1")
    assert found.returncode == 0
    head, before, _, hit, after, _ = found.stdout.splitlines()[:6]
    assert head.startswith(f"1. {documents / 'report.pdf'}:2 (page 2) #")
    assert before.strip().startswith(f"- {documents / 'report.pdf'}:1 (page 2)") and "Рособоронэкспорт" in hit
    assert after.strip().startswith(f"- {documents / 'report.pdf'}:3 (page 2)")
    as_json = json.loads(_cli("query", "Рособоронэкспорт", "--index", str(tmp_path / "ix"), "--lang", "ru",
                              "--json", "--context", "1").stdout.splitlines()[0])
    assert (as_json["page"], as_json["line"]) == (2, 2)
    assert [n["line"] for n in as_json["before"]] == [1] and [n["line"] for n in as_json["after"]] == [3]


@pytest.mark.parametrize("kind", ["pdf", "docx", "odt", "rtf"])
def test_any_damage_to_a_file_is_undecodable_or_read(tmp_path: Path, kind: str) -> None:
    """Bytes overwritten, cut or inserted anywhere: the parsers fail in many ways (zlib, zip, XML,
    struct), and every one of them must reach the indexer as Undecodable."""
    import random

    data, extract = {
        "pdf": lambda: (make_pdf(tmp_path / "a.pdf", PAGES).read_bytes(), pdf_text),
        "docx": lambda: (make_docx(tmp_path / "a.docx", ["Первый абзац.", "Second."]).read_bytes(), docx_text),
        "odt": lambda: (make_odt(tmp_path / "a.odt", "Заголовок", ["Первый абзац."]).read_bytes(), odt_text),
        "rtf": lambda: (RTF.encode("ascii"), rtf_text),
    }[kind]()
    rng = random.Random(3)
    for _ in range(200):
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 20)):  # overwritten bytes
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        if rng.random() < 0.3:  # cut
            damaged = damaged[:rng.randrange(len(damaged))]
        try:
            extract(bytes(damaged))
        except Undecodable:
            pass
