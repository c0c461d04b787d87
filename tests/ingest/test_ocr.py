"""OCR: scanned PDF pages and images in both languages found with their page and line, a photo
without text gives no passage, each page read once (the cache), and without Tesseract one note."""

from __future__ import annotations

import io
import random
import shutil
from pathlib import Path

import pytest

from search import Index
from search.ingest import ocr
from search.ingest.formats import PAGE_BREAK, Undecodable, pdf_text
from search.ingest.passages import split_passages
from search.ingest.sources import discover, read

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
needs_tesseract = pytest.mark.skipif(
    shutil.which("tesseract") is None,
    reason="tesseract is not installed (apt-get install tesseract-ocr tesseract-ocr-eng tesseract-ocr-rus)")
ENGLISH = ["Rosoboronexport signed a contract", "for air defense systems with India."]
RUSSIAN = ["Рособоронэкспорт подписал контракт", "на поставку зенитных комплексов."]


def scan(lines: list[str], size: tuple[int, int] = (1700, 700)):  # type: ignore[no-untyped-def]
    """A page as a scanner gives it: the lines in DejaVu Sans, black on white, at about 200 dpi."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(FONT, 40)
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    for number, line in enumerate(lines):
        draw.text((60, 60 + 70 * number), line, font=font, fill=0)
    return image


def photo():  # type: ignore[no-untyped-def]
    """A picture without text: smooth noise, as a photograph of a landscape."""
    from PIL import Image, ImageFilter

    rng = random.Random(1)
    image = Image.new("L", (400, 300))
    image.putdata([rng.randrange(256) for _ in range(400 * 300)])
    return image.filter(ImageFilter.GaussianBlur(4)).convert("RGB")


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture()
def scans(tmp_path: Path) -> Path:
    from fpdf import FPDF

    folder = tmp_path / "scans"
    folder.mkdir()
    scan(ENGLISH).save(folder / "letter.png")
    scan(RUSSIAN).convert("RGB").save(folder / "письмо.jpg", quality=95)
    first, second = scan(["Annual report on arms exports."]), scan(["", "", *RUSSIAN])
    first.save(folder / "pages.tiff", save_all=True, append_images=[second])
    photo().save(folder / "photo.webp")
    scan(["Submarines and naval cooperation."]).save(tmp_path / "page2.png")
    pdf = FPDF()
    pdf.add_font("DejaVu", fname=FONT)
    pdf.set_font("DejaVu", size=11)
    pdf.add_page()
    pdf.cell(text="Годовой отчёт об экспорте вооружений.")
    pdf.add_page()  # a scanned page: an image, no text layer
    pdf.image(str(tmp_path / "page2.png"), x=0, y=0, w=210)
    pdf.output(str(folder / "mixed.pdf"))
    return folder


def _hit(index: Index, query: str) -> tuple[str, int | None, int]:
    hit = index.search(query, limit=1, cross=False).hits[0]
    return Path(hit.doc).name, hit.page, hit.line


@needs_tesseract
def test_images_and_scanned_pages_are_found_with_page_and_line(tmp_path: Path, scans: Path) -> None:
    with Index(tmp_path / "ix") as index:
        report = index.update([str(scans)], vectors=False)
        assert report.indexed == 5 and not report.skipped
        assert _hit(index, "Rosoboronexport") == ("letter.png", None, 1)
        found = {(Path(h.doc).name, h.page) for h in index.search("зенитных", cross=False).hits if h.line >= 2}
        assert found == {("письмо.jpg", None), ("pages.tiff", 2)}  # line 2 or 3: a paragraph break is a line
        assert _hit(index, "arms exports") == ("pages.tiff", 1, 1)
        assert _hit(index, "Submarines") == ("mixed.pdf", 2, 1)
        assert _hit(index, "Годовой") == ("mixed.pdf", 1, 1)
    photo_text = read(next(discover([str(scans / "photo.webp")]))).text
    assert not split_passages(photo_text)


@needs_tesseract
def test_words_below_the_confidence_threshold_are_dropped_so_a_photo_gives_no_text() -> None:
    buffer = io.BytesIO()
    photo().save(buffer, format="PNG")
    assert ocr.image_text(buffer.getvalue()).strip() == ""
    tsv = ("level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n"
           "5\t1\t1\t1\t1\t1\t0\t0\t1\t1\t96.5\tРособоронэкспорт\n5\t1\t1\t1\t1\t2\t0\t0\t1\t1\t12\t~|\n"
           "5\t1\t1\t1\t2\t1\t0\t0\t1\t1\t91\tcontract\n5\t1\t2\t1\t1\t1\t0\t0\t1\t1\t88\tIndia\n")
    assert ocr.words_text(tsv) == "Рособоронэкспорт\ncontract\n\nIndia"


@needs_tesseract
def test_each_page_is_read_once_then_from_the_cache(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    buffer = io.BytesIO()
    scan(RUSSIAN).save(buffer, format="PNG")
    first = ocr.image_text(buffer.getvalue())
    assert "Рособоронэкспорт" in first and len(list((cache / "search" / "ocr").glob("*.txt"))) == 1

    def never(_: bytes) -> str:
        raise AssertionError("tesseract called for a page read before")

    monkeypatch.setattr(ocr, "_tesseract", never)
    assert ocr.image_text(buffer.getvalue()) == first


def test_without_tesseract_images_are_skipped_with_one_note_on_installing_it(
        tmp_path: Path, scans: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ocr, "available", lambda: False)
    warnings: list[str] = []
    report = Index(tmp_path / "ix").update([str(scans)], vectors=False, warn=warnings.append)
    assert len(report.skipped) == 4 and all(ocr.MISSING in reason for _, reason in report.skipped)
    assert report.indexed == 1  # the PDF's text page is indexed
    assert sum("apt-get install tesseract-ocr" in warning for warning in warnings) == 1


def test_a_damaged_image_is_undecodable(scans: Path) -> None:
    data = (scans / "letter.png").read_bytes()
    with pytest.raises(Undecodable, match="damaged image"):
        ocr.image_text(data[:len(data) // 2])
    with pytest.raises(Undecodable, match="damaged image"):
        ocr.image_text(b"not an image")


@needs_tesseract
def test_any_damage_to_an_image_is_undecodable_or_read(scans: Path) -> None:
    data = (scans / "pages.tiff").read_bytes()
    rng = random.Random(11)
    for _ in range(30):
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 10)):
            damaged[rng.randrange(min(len(damaged), 4096))] = rng.randrange(256)  # headers and tags
        if rng.random() < 0.3:
            damaged = damaged[:rng.randrange(len(damaged))]
        try:
            ocr.image_text(bytes(damaged))
        except Undecodable:
            pass


@needs_tesseract
def test_a_pdf_of_scanned_pages_only_is_read_page_by_page(tmp_path: Path) -> None:
    scan(ENGLISH).save(tmp_path / "scan.pdf", save_all=True, append_images=[scan(RUSSIAN)])
    pages = pdf_text((tmp_path / "scan.pdf").read_bytes()).split(PAGE_BREAK)
    assert "Rosoboronexport" in pages[0] and "Рособоронэкспорт" in pages[1]
