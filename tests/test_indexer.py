"""Indexing: incremental sync, real-world files, and safety under faults and concurrency."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from search import Index
from search.errors import IndexBusy, InputError

from .conftest import ROOT, SEEDS

RUSSIAN = "Китай проявил интерес к высокотехнологичным образцам российского вооружения."


def texts(index: Index, query: str) -> list[str]:
    return [hit.text for hit in index.search(query, cross=False, limit=100).hits]


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("Alpha passage about Rosoboronexport.", encoding="utf-8")
    (folder / "b.md").write_text("Bravo passage about air defense.", encoding="utf-8")
    return folder


def test_rerun_over_unchanged_files_skips_them_and_commits_nothing(tmp_path: Path, corpus: Path) -> None:
    index = Index(tmp_path / "ix")
    first = index.update([str(corpus)])
    generation = index.store.generation()
    second = index.update([str(corpus)])
    assert (first.indexed, second.indexed, second.unchanged) == (2, 0, 2)
    assert index.store.generation() == generation


def test_changed_new_and_removed_files_are_synced(tmp_path: Path, corpus: Path) -> None:
    index = Index(tmp_path / "ix")
    index.update([str(corpus)])
    (corpus / "a.txt").write_text("Alpha now speaks of Shoigu.", encoding="utf-8")
    (corpus / "c.txt").write_text("Charlie is new.", encoding="utf-8")
    (corpus / "b.md").unlink()
    report = index.update([str(corpus)])
    assert (report.indexed, report.updated, report.removed) == (1, 1, 1)
    assert texts(index, "Shoigu") == ["Alpha now speaks of Shoigu."]
    assert texts(index, "Rosoboronexport") == []
    assert texts(index, "Bravo") == []
    assert texts(index, "Charlie") == ["Charlie is new."]


def test_touched_but_identical_files_are_not_reindexed(tmp_path: Path, corpus: Path) -> None:
    index = Index(tmp_path / "ix")
    index.update([str(corpus)])
    os.utime(corpus / "a.txt", ns=(time.time_ns(), time.time_ns() + 10**9))
    report = index.update([str(corpus)])
    assert (report.unchanged, report.updated) == (2, 0)
    assert index.update([str(corpus)]).unchanged == 2


def _other_folder(tmp_path: Path) -> Path:
    other = tmp_path / "other"
    other.mkdir()
    (other / "d.txt").write_text("Delta from elsewhere.", encoding="utf-8")
    return other


def test_documents_from_other_paths_stay(tmp_path: Path, corpus: Path) -> None:
    index = Index(tmp_path / "ix")
    index.update([str(corpus)])
    other = _other_folder(tmp_path)
    index.update([str(other)])
    assert texts(index, "Alpha") and texts(index, "Delta")
    assert index.stats().documents == 3


def test_rebuild_starts_afresh(tmp_path: Path, corpus: Path) -> None:
    index = Index(tmp_path / "ix")
    index.update([str(corpus)])
    other = _other_folder(tmp_path)
    report = index.update([str(other)], rebuild=True)
    assert report.indexed == 1
    assert texts(index, "Alpha") == [] and texts(index, "Delta")


def test_legacy_encodings_html_binary_and_empty_files(tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "cp1251.txt").write_bytes(RUSSIAN.encode("cp1251"))
    (folder / "koi8.txt").write_bytes(RUSSIAN.replace("Китай", "Пекин").encode("koi8_r"))
    (folder / "utf16.txt").write_bytes(RUSSIAN.replace("Китай", "Индия").encode("utf-16"))
    (folder / "page.html").write_text("<title>Т</title><script>secret()</script><p>Вьетнам купил</p>", encoding="utf-8")
    (folder / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    (folder / "empty.txt").write_bytes(b"")
    warnings: list[str] = []
    index = Index(tmp_path / "ix")
    report = index.update([str(folder)], warn=warnings.append)
    assert report.indexed == 5 and [Path(p).name for p, _ in report.skipped] == ["image.txt"]
    assert warnings and "image.txt" in warnings[0]
    for word in ("Китай", "Пекин", "Индия", "Вьетнам"):
        assert len(texts(index, word)) == 1, word
    assert texts(index, "secret") == []


def test_missing_path_fails_before_touching_the_index(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        Index(tmp_path / "ix").update([str(tmp_path / "nope")])
    assert not (tmp_path / "ix").exists()


def test_a_second_writer_waits_then_gives_up_with_a_clear_error(tmp_path: Path, corpus: Path) -> None:
    index = Index(tmp_path / "ix")
    index.update([str(corpus)])
    with index.store.writing():
        with pytest.raises(IndexBusy, match="another process"):
            with index.store.writing(timeout=0.3):
                pass
    assert texts(index, "Alpha")


def _indexing_process(corpus: Path, index: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "search", "index", str(corpus), "--index", str(index)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait_until_writing(index: Index, process: subprocess.Popen) -> None:
    """Until the indexing process holds the write lock."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with index.store.writing(timeout=0):
                pass
        except IndexBusy:
            return
        time.sleep(0.02)
    pytest.fail("the indexing process never took the write lock")


def test_sigkill_during_indexing_leaves_the_last_commit_usable(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "seed.txt").write_text((SEEDS / "003_99d6f361f7236c8b.txt").read_text(encoding="utf-8"), encoding="utf-8")
    index = Index(tmp_path / "ix")
    index.update([str(corpus)])
    before = texts(index, "Rosoboronexport")
    for i in range(300):
        (corpus / f"extra{i:03}.txt").write_text(f"Extra document {i} about Rosoboronexport. " * 40, encoding="utf-8")
    process = _indexing_process(corpus, index.store.path)
    _wait_until_writing(index, process)
    time.sleep(1.0)  # well into adding documents, long before the commit
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL
    assert texts(index, "Rosoboronexport") == before
    assert index.search("Rosoboronexport").hits  # the vector cache is consistent too
    report = index.update([str(corpus)])
    assert report.indexed + report.unchanged == 301
    assert len(texts(index, "Rosoboronexport")) == 100


def test_queries_answer_while_an_indexing_run_is_in_progress(tmp_path: Path, corpus: Path) -> None:
    index = Index(tmp_path / "ix")
    index.update([str(corpus)])
    big = tmp_path / "big"
    big.mkdir()
    for i in range(200):
        (big / f"{i:03}.txt").write_text(f"Document {i} on military cooperation. " * 30, encoding="utf-8")
    process = _indexing_process(big, index.store.path)
    try:
        answered = 0
        while process.poll() is None and answered < 20:
            assert texts(index, "Alpha") == ["Alpha passage about Rosoboronexport."]
            answered += 1
            time.sleep(0.1)
        assert answered > 0
    finally:
        process.wait(timeout=120)
    assert process.returncode == 0
    assert texts(index, "Alpha")
