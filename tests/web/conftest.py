"""An index for the web tests: the seeds plus files made here, in both languages, one of them
HTML-like text with a script in it, and a PDF of three pages."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from search import Index

from ..conftest import SEEDS
from ..ingest.test_formats import PAGES, make_pdf

HOSTILE = ('Warning about <script>alert("xss")</script> and <img src=x onerror=alert(1)> '
           'in the Zanzibarite report.')
FILES = {
    "english.txt": "The Zanzibarite delegation discussed air defense systems with the ministry.\n\n"
                   "A second paragraph about naval exercises in the Baltic Sea.\n",
    "russian.txt": "Делегация Занзибарита обсудила зенитные ракетные комплексы с министерством.\n\n"
                   "Второй абзац о военно-морских учениях на Балтике.\n",
    "hostile.txt": HOSTILE + "\n",
}


def indexed_corpus(work: Path) -> Path:
    """The seeds and the web tests' own files (both languages, a hostile one, a PDF) in
    ``work/docs``, indexed in ``work/index``."""
    shutil.copytree(SEEDS, work / "docs")
    for name, text in FILES.items():
        (work / "docs" / name).write_text(text, encoding="utf-8")
    make_pdf(work / "docs" / "report.pdf", PAGES)
    with Index(work / "index") as index:
        index.update([str(work / "docs")])
    return work


@pytest.fixture(scope="session")
def web_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return indexed_corpus(tmp_path_factory.mktemp("web"))


@pytest.fixture(scope="session")
def web_index(web_corpus: Path) -> Index:
    """The index the web tests read (opened for the session; tests that change files use their own)."""
    return Index.open(web_corpus / "index")
