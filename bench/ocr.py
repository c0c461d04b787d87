"""OCR and container reading through the text phase, against their own floor, on the WMT news corpus.

- OCR speed: WMT lines rendered as page images (DejaVu Sans, 200 dpi, English and Russian
  pages in turn); pages/s of ``tesseract`` alone on them, one page after another (one thread,
  as the pipeline calls it), and of ``search index --no-vectors`` on a folder of the same
  images with an empty OCR cache, with 1 and 2 workers; the ratio pipeline / tesseract alone.
- OCR word recall per language: the share of each rendered line's words (case folded, without
  punctuation) that the pipeline's text of the page has.
- Container throughput: WMT text as plain .txt files, the same files in a .zip, in a .tar.gz
  and as the bodies of .eml messages in an .mbox (Windows-1251 and UTF-8); MB of text/s of the text
  phase on each and the ratio container / plain (1.0: as fast).

    python bench/ocr.py [--pages N] [--files N] [--workdir DIR]     (--pages 0: containers only)
"""

from __future__ import annotations

import argparse
import io
import os
import re
import resource
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections import Counter
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpora" / "wmt-news-en-ru"
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
LINES_PER_PAGE = 18
LINES_PER_FILE = 20
sys.path.insert(0, str(ROOT))


def corpus(lang: str) -> list[str]:
    return (CORPUS / f"newstest2019-enru.{lang}").read_text(encoding="utf-8").splitlines()


def wrap(line: str, width: int = 70) -> list[str]:
    """A sentence cut into printed lines at white space."""
    out, current = [], ""
    for word in line.split():
        if current and len(current) + 1 + len(word) > width:
            out.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
    return [*out, current] if current else out


def render_pages(folder: Path, pages: int) -> dict[str, list[tuple[Path, list[str]]]]:
    """Page images of WMT lines, English and Russian pages in turn; each with the lines on it."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(FONT, 30)
    made: dict[str, list[tuple[Path, list[str]]]] = {"en": [], "ru": []}
    texts = {lang: iter(corpus(lang)[1000:]) for lang in made}
    for number in range(pages):
        lang = ("en", "ru")[number % 2]
        lines: list[str] = []
        while len(lines) < LINES_PER_PAGE:
            lines += wrap(next(texts[lang]))
        lines = lines[:LINES_PER_PAGE]
        image = Image.new("L", (1654, 2339), 255)  # A4 at 200 dpi
        draw = ImageDraw.Draw(image)
        for row, line in enumerate(lines):
            draw.text((120, 150 + 55 * row * 2), line, font=font, fill=0)
        path = folder / f"page{number:03}-{lang}.png"
        image.save(path)
        made[lang].append((path, lines))
    return made


def words(text: str) -> list[str]:
    return re.findall(r"[^\W_]+", text.lower().replace("ё", "е"))


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def tesseract_alone(paths: list[Path]) -> tuple[float, float]:
    """Seconds (wall, CPU) for tesseract to read every page, one after another, as the pipeline calls it."""
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    started, cpu = time.perf_counter(), _cpu()
    for path in paths:
        subprocess.run(["tesseract", str(path), "stdout", "-l", "eng+rus", "tsv"], capture_output=True,
                       check=True, env=env)
    return time.perf_counter() - started, _cpu() - cpu


def index_seconds(folder: Path, index: Path, workers: int, cache: Path, cold: bool = True) -> tuple[float, float]:
    """Seconds of the text phase on a folder, in a fresh process; ``cold``: with an empty OCR cache
    (the machine's other caches, the lexicon's, stay: they are built once per machine).
    Wall and CPU seconds (the process, its workers and their tesseract calls)."""
    if cold:
        shutil.rmtree(cache / "search" / "ocr", ignore_errors=True)
    code = ("import resource, sys, time\nfrom search import Index\nstarted = time.perf_counter()\n"
            "report = Index(sys.argv[2]).update([sys.argv[1]], vectors=False, rebuild=True, workers=int(sys.argv[3]))\n"
            "assert not report.skipped, report.skipped\nprint(time.perf_counter() - started)\n")
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    cpu = _cpu()
    run = subprocess.run([sys.executable, "-c", code, str(folder), str(index), str(workers)], capture_output=True,
                         text=True, env=env, check=True)
    return float(run.stdout.split()[-1]), _cpu() - cpu


def recall(made: dict[str, list[tuple[Path, list[str]]]], cache: Path) -> dict[str, float]:
    """The share of each language's rendered words that OCR gave back (from the warm cache)."""
    os.environ["XDG_CACHE_HOME"] = str(cache)
    from search.ingest import ocr

    shares = {}
    for lang, pages in made.items():
        found = total = 0
        for path, lines in pages:
            got = Counter(words(ocr.image_text(path.read_bytes())))
            want = Counter(words(" ".join(lines)))
            found += sum(min(count, got[word]) for word, count in want.items())
            total += sum(want.values())
        shares[lang] = found / total
    return shares


def folders_warm_up(work: Path) -> Path:
    """A folder of one small file, to build the machine's caches before anything is timed."""
    folder = work / "warm-up"
    folder.mkdir(exist_ok=True)
    (folder / "a.txt").write_text("Rosoboronexport. Рособоронэкспорт.", encoding="utf-8")
    return folder


def _fits(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def containers(folder: Path, files: int) -> dict[str, Path]:
    """The same WMT text as plain files, in a zip, in a tar.gz and as messages of an mbox."""
    texts = []
    for lang in ("en", "ru"):
        lines = corpus(lang)
        texts += [(f"{lang}{i:04}.txt", "\n".join(lines[i * LINES_PER_FILE:(i + 1) * LINES_PER_FILE]) + "\n")
                  for i in range(files // 2)]
    plain = folder / "plain"
    plain.mkdir(parents=True)
    for name, text in texts:
        (plain / name).write_text(text, encoding="utf-8")
    made = {"plain": plain}
    for kind in ("zip", "tar.gz", "mbox"):
        target = folder / kind
        target.mkdir()
        made[kind] = target
    with zipfile.ZipFile(folder / "zip" / "news.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in texts:
            archive.writestr(name, text.encode("utf-8"))
    with tarfile.open(folder / "tar.gz" / "news.tar.gz", "w:gz") as archive:
        for name, text in texts:
            data = text.encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    with open(folder / "mbox" / "news.mbox", "wb") as box:
        for number, (name, text) in enumerate(texts):
            message = EmailMessage()
            message["From"] = "Newsroom <news@example.com>"
            message["Subject"] = name
            charset = "windows-1251" if name.startswith("ru") and number % 2 and _fits(text, "cp1251") else "utf-8"
            message.set_content(text, charset=charset, cte="8bit")
            box.write(b"From news@example.com Tue Dec  1 10:00:00 2026\n" + message.as_bytes() + b"\n")
    return made


def ocr_bench(work: Path, pages: int, cache: Path) -> None:
    """Pages/s of tesseract alone and through the text phase (1 and 2 workers), and word recall."""
    scans = work / "scans"
    scans.mkdir(exist_ok=True)
    made = render_pages(scans, pages)
    paths = sorted(scans.glob("*.png"))
    alone, alone_cpu = tesseract_alone(paths)
    print(f"OCR: {len(paths)} pages of WMT news (200 dpi, English and Russian in turn); load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (wall-clock ratios suffer from other work, CPU ones less)")
    print(f"  tesseract alone, one page after another: {alone:.1f} s ({alone_cpu:.1f} s CPU), "
          f"{len(paths) / alone:.2f} pages/s")
    for workers in (1, 2):
        seconds, cpu = index_seconds(scans, work / f"ix-ocr-{workers}", workers, cache)
        print(f"  search index, {workers} worker{'s' * (workers > 1)}: {seconds:.1f} s ({cpu:.1f} s CPU), "
              f"{len(paths) / seconds:.2f} pages/s, ratio {alone / seconds:.2f} of tesseract alone "
              f"(CPU per page: {alone_cpu / cpu:.2f})")
    warm, _ = index_seconds(scans, work / "ix-ocr-warm", 1, cache, cold=False)
    print(f"  again with the OCR cache warm: {warm:.2f} s")
    shares = recall(made, cache)
    print(f"  word recall: en {shares['en']:.3f}, ru {shares['ru']:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=16)
    parser.add_argument("--files", type=int, default=400)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench-ocr-"))
    work.mkdir(parents=True, exist_ok=True)
    cache = work / "cache"
    index_seconds(folders_warm_up(work), work / "ix-warm-up", 1, cache)  # the lexicon, once per machine
    if args.pages:
        ocr_bench(work, args.pages, cache)
    folders = containers(work / "text", args.files)
    megabytes = sum(p.stat().st_size for p in folders["plain"].iterdir()) / 1e6
    print(f"Containers: {args.files} files of {LINES_PER_FILE} WMT lines, {megabytes:.1f} MB of text, one worker")
    base = None
    for kind, folder in folders.items():
        seconds, cpu = min(index_seconds(folder, work / f"ix-{kind}", 1, cache, cold=False) for _ in range(2))
        base = base or (seconds, cpu)
        print(f"  {kind:7} {seconds:5.2f} s ({cpu:5.2f} s CPU) {megabytes / seconds:5.2f} MB/s  ratio "
              f"{base[0] / seconds:.2f} of plain (CPU {base[1] / cpu:.2f})")


if __name__ == "__main__":
    main()
