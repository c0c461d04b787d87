"""Shared fixtures: real data (the seeds, ../shared/corpora) and indexes built from it."""

from __future__ import annotations

import gzip
import os
import random
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

MACHINE_CACHE = Path(tempfile.mkdtemp(prefix="search-tests-cache-"))
"""The machine's cache folder for this run (inherited by the processes tests start): each run starts
as a new machine does, as CI's does, with no lemmas, lexicon, word vectors or model arrays kept by
an earlier run. Kept ones hid two faults that only CI's fresh machine showed."""
os.environ["XDG_CACHE_HOME"] = str(MACHINE_CACHE)

from search import Index  # noqa: E402  (after the cache folder is set)

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
CORPORA = ROOT.parent / "shared" / "corpora"


def pytest_sessionfinish(session: pytest.Session) -> None:
    shutil.rmtree(MACHINE_CACHE, ignore_errors=True)


@pytest.fixture(scope="session")
def seeds_index(tmp_path_factory: pytest.TempPathFactory) -> Index:
    """An index of the five seed documents, built once (tests must not change it)."""
    work = tmp_path_factory.mktemp("seeds")
    shutil.copytree(SEEDS, work / "seeds")
    index = Index(work / "index")
    index.update([str(work / "seeds")])
    return index


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    """Two small files to index and change."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("Alpha passage about Rosoboronexport.", encoding="utf-8")
    (folder / "b.md").write_text("Bravo passage about air defense.", encoding="utf-8")
    return folder


def news(folder: Path, files: int, start: int = 0, langs: tuple[str, ...] = ("en", "ru")) -> Path:
    """WMT news as files of ten lines (``{lang}{n}.txt``), the same number in each language."""
    folder.mkdir(parents=True, exist_ok=True)
    for lang in langs:
        lines = (CORPORA / "wmt-news-en-ru" / f"newstest2019-enru.{lang}").read_text(encoding="utf-8").splitlines()
        for i in range(start, start + files // len(langs)):
            (folder / f"{lang}{i:04}.txt").write_text("\n".join(lines[i * 10:(i + 1) * 10]) + "\n", encoding="utf-8")
    return folder


def write_dictd(folder: Path, entries: dict[str, str]) -> Path:
    """A dictd database (.index + .dict.dz) of headword -> entry body; returns its base path."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

    def b64(number: int) -> str:
        digits = ""
        while True:
            digits = alphabet[number % 64] + digits
            number //= 64
            if not number:
                return digits

    data, lines = b"", []
    for headword, body in entries.items():
        chunk = f"{headword}\n{body}\n".encode()
        lines.append(f"{headword}\t{b64(len(data))}\t{b64(len(chunk))}")
        data += chunk
    base = folder / "tiny"
    base.with_suffix(".index").write_text("\n".join(lines) + "\n", encoding="utf-8")
    base.with_suffix(".dict.dz").write_bytes(gzip.compress(data))
    return base


def damaged_copies(data: bytes, seed: int, copies: int, flips: int = 20) -> Iterator[bytes]:
    """Randomly damaged copies of a file's bytes, for fuzzing a reader: up to ``flips`` bytes
    changed, and three in ten also cut short."""
    rng = random.Random(seed)
    for _ in range(copies):
        damaged = bytearray(data)
        for _ in range(rng.randint(1, flips)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        if rng.random() < 0.3:
            damaged = damaged[:rng.randrange(len(damaged))]
        yield bytes(damaged)
