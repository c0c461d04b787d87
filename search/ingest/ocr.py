"""Images and scanned PDF pages -> their text, by Tesseract (``eng+rus``).

Tesseract is called as a program (its TSV output gives each word's confidence): words below
``MIN_CONFIDENCE`` are dropped, so a photograph without text gives no text rather than noise.
Each page's text is cached per machine under the hash of the page image (``<cache>/ocr/``),
so no page is read twice, by a rerun or by another index. One Tesseract thread per call: the
text phase runs one call per worker process, on every core.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import warnings
from typing import TYPE_CHECKING, Iterable

from ..files import cache_folder, replace_path
from .formats import PAGE_BREAK, Undecodable

if TYPE_CHECKING:
    from PIL import Image

LANGUAGES = "eng+rus"
MIN_CONFIDENCE = 60
PDF_DPI = 300
SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
MISSING = "needs OCR, and tesseract is not installed"
INSTALL = ("to read images and scanned PDF pages, install Tesseract: "
           "apt-get install tesseract-ocr tesseract-ocr-eng tesseract-ocr-rus (or sh scripts/install-dictionary.sh)")
_DIRECT = {"PNG", "JPEG", "BMP"}
"""Image formats Tesseract reads as they are: their bytes go to it unchanged."""
_VERSION = f"{LANGUAGES}|{MIN_CONFIDENCE}|1".encode()
"""Part of every cache key: a change of languages or threshold reads pages again."""


def available() -> bool:
    """Whether the tesseract program is on the PATH."""
    return shutil.which("tesseract") is not None


def image_text(data: bytes) -> str:
    """The text of an image file, a multi-page TIFF's pages joined by PAGE_BREAK. Raises Undecodable."""
    from PIL import Image

    try:
        with warnings.catch_warnings():  # what Pillow says of odd files is ours to say, once
            warnings.simplefilter("ignore")
            image = Image.open(io.BytesIO(data))
            frames = getattr(image, "n_frames", 1)
            if frames == 1 and image.format in _DIRECT:
                image.load()  # a truncated file fails here, not in tesseract
                return page_text(image, data)
            pages = []
            for frame in range(frames):
                image.seek(frame)
                pages.append(page_text(image.copy()))
    except Undecodable:
        raise
    except Image.DecompressionBombError:
        raise Undecodable(f"image over {Image.MAX_IMAGE_PIXELS:,} pixels (a decompression bomb?)") from None
    except Exception as error:  # Pillow meeting a damaged file fails anywhere (struct, zlib, its own errors)
        raise Undecodable(f"damaged image ({type(error).__name__})") from None
    return PAGE_BREAK.join(pages)


def pdf_pages(data: bytes, numbers: Iterable[int]) -> dict[int, str]:
    """The text of the given (0-based) pages of a PDF, rendered at PDF_DPI."""
    import pypdfium2

    document = pypdfium2.PdfDocument(data)
    try:
        found = {}
        for number in numbers:
            page = document[number]
            found[number] = page_text(page.render(scale=PDF_DPI / 72, grayscale=True).to_pil())
            page.close()
        return found
    finally:
        document.close()


def page_text(image: Image.Image, encoded: bytes | None = None) -> str:
    """One page's words of enough confidence, a line of text per line of the page; from the
    cache when this image was read before. ``encoded``: the image's file bytes, if Tesseract reads them."""
    if not available():
        raise Undecodable(MISSING)
    key = hashlib.blake2b(_VERSION + f"{image.mode}{image.size}".encode() + image.tobytes(), digest_size=20)
    cached = cache_folder() / "ocr" / f"{key.hexdigest()}.txt"
    try:
        return cached.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        pass
    if encoded is None:
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", compress_level=1)
        encoded = buffer.getvalue()
    text = _tesseract(encoded)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        replace_path(cached, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    except OSError:
        pass  # a read-only cache costs time, never text
    return text


def _tesseract(encoded: bytes) -> str:
    run = subprocess.run(["tesseract", "stdin", "stdout", "-l", LANGUAGES, "tsv"], input=encoded,
                         capture_output=True, env={**os.environ, "OMP_THREAD_LIMIT": "1"})
    if run.returncode != 0:
        message = run.stderr.decode("utf-8", errors="replace").strip().splitlines()
        raise Undecodable(f"OCR failed ({message[-1] if message else f'tesseract exit {run.returncode}'})")
    return words_text(run.stdout.decode("utf-8", errors="replace"))


def words_text(tsv: str) -> str:
    """Tesseract's TSV -> the words of enough confidence, a line of text per line of the page,
    a blank line between paragraphs."""
    lines: dict[tuple[str, ...], list[str]] = {}
    for row in tsv.splitlines()[1:]:
        cells = row.split("\t")
        if len(cells) < 12 or cells[0] != "5" or not cells[11].strip():
            continue
        try:
            if float(cells[10]) >= MIN_CONFIDENCE:
                lines.setdefault(tuple(cells[1:5]), []).append(cells[11].strip())
        except ValueError:
            continue
    out: list[str] = []
    paragraph = None
    for (page, block, par, _), words in lines.items():
        if paragraph is not None and paragraph != (page, block, par):
            out.append("")
        out.append(" ".join(words))
        paragraph = (page, block, par)
    return "\n".join(out)
