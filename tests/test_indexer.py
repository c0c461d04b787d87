"""Indexing: incremental sync, real-world files, and safety under faults and concurrency."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from search import Index, files, indexer, output
from search.files import FrozenTable, mapped
from search.languages import russian
from search.errors import IndexBusy, InputError, Interrupted
from search.storage import wordsets
from search.vectors import vectorize

from .conftest import ROOT, news

RUSSIAN = "Китай проявил интерес к высокотехнологичным образцам российского вооружения."


def texts(index: Index, query: str) -> list[str]:
    return [hit.text for hit in index.search(query, cross=False, limit=100).hits]


def test_a_run_lays_the_lemmas_of_its_words_out_for_queries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Queries read lemmas from the machine's frozen table (a look-up 3 µs, SQLite's 10-45), which
    a run lays out again once its segments are built (here after any new row)."""
    monkeypatch.setattr(files, "FREEZE_AFTER", 1)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "ru.txt").write_text("Переговоры о поставках зенитных систем в Бразилию продолжились.\n",
                                   encoding="utf-8")
    Index(tmp_path / "index").update([str(corpus)], vectors=False)
    frozen = FrozenTable(mapped(russian._kept().frozen_path))
    assert [frozen.get(word) for word in ("переговоры", "поставках", "зенитных", "бразилию")] == [
        "переговоры", "поставка", "зенитный", "бразилия"]


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
    with index.store.writer():
        with pytest.raises(IndexBusy, match="another process"):
            with index.store.writer(timeout=0.3):
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
            with index.store.writer(timeout=0):
                pass
        except IndexBusy:
            return
        time.sleep(0.02)
    pytest.fail("the indexing process never took the write lock")


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


class _InterruptAfter:
    """A progress callback that presses Ctrl-C once a phase has advanced ``steps`` times."""

    def __init__(self, phase: str, steps: int) -> None:
        self.phase, self.steps, self.current = phase, steps, ""

    def start(self, label: str, total: int) -> None:
        self.current = label

    def advance(self, amount: int) -> None:
        if self.current == self.phase:
            self.steps -= 1
            if self.steps == 0:
                raise KeyboardInterrupt


def test_the_text_index_answers_before_its_vectors_exist(tmp_path: Path) -> None:
    docs = news(tmp_path / "docs", 5, langs=("en",))
    index = Index(tmp_path / "ix")
    report = index.update([str(docs)], vectors=False)
    stats = index.stats()
    passages = sum(stats.passages.values())
    assert stats.vectors == 0 and report.vectors_missing == passages == report.passages > 0
    results = index.search("Brexit deal Parliament vote")
    assert results.hits and results.dense and results.coverage.covered == 0
    report = index.update([str(docs)])  # the next run computes only the vectors
    assert (report.indexed, report.unchanged, report.vectors_missing) == (0, 5, 0)
    assert report.encoded >= passages
    assert index.stats().vectors == passages


@pytest.mark.parametrize("phase, left, covered, explained, encoded", [
    ("vectors", "text index is complete, vectors in part", "vectors", "vectors for {} of {} passages so far",
     "encoded"),
    ("deep", "text index and its vectors are complete, deep vectors in part", "deep",
     "deep vectors (e5) for {} of {} passages", "deep_encoded"),
])
def test_an_interrupted_vector_phase_keeps_its_vectors_and_resumes(tmp_path: Path, monkeypatch, phase: str,
                                                                   left: str, covered: str, explained: str,
                                                                   encoded: str) -> None:
    monkeypatch.setattr(vectorize, "VECTOR_CHUNK", 8)
    docs = news(tmp_path / "docs", 4, langs=("en",))
    index = Index(tmp_path / "ix")
    with pytest.raises(Interrupted, match=left):
        index.update([str(docs)], progress=_InterruptAfter(phase, 3))
    stats = index.stats()
    passages, done = sum(stats.passages.values()), getattr(stats, covered)
    assert 0 < done < passages and (phase == "vectors" or stats.vectors == passages)
    results = index.search("Trump said the deal was good for America")
    assert explained.format(done, passages) in "\n".join(output.explain(results))
    if phase == "deep":
        assert {hit.parts.deep is not None for hit in results.hits} == {True, False}  # e5 where it has reached
    report = index.update([str(docs)])
    assert report.indexed == 0 and getattr(report, encoded) >= passages - done
    assert getattr(index.stats(), covered) == passages


def test_no_deep_stops_before_the_deep_phase_and_the_next_run_adds_it(tmp_path: Path) -> None:
    docs = news(tmp_path / "docs", 4)
    index = Index(tmp_path / "ix")
    report = index.update([str(docs)], deep=False)
    stats = index.stats()
    passages = sum(stats.passages.values())
    assert stats.vectors == passages and stats.deep == 0 and report.deep_missing == passages
    results = index.search("Trump said the deal was good for America", lang="ru")
    assert results.hits and results.deep_coverage.covered == 0
    assert all(hit.parts.deep is None for hit in results.hits)  # ranked as before the deep phase
    report = index.update([str(docs)])
    assert report.deep_missing == 0 and report.deep_encoded >= passages and index.stats().deep == passages
    assert all(hit.parts.deep is not None for hit in index.search("Trump said the deal was good for America",
                                                                  lang="ru").hits)


def test_an_interrupted_text_phase_commits_the_files_it_finished(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(indexer, "TASK_BYTES", 2000)
    monkeypatch.setattr(indexer, "COMMIT_SECONDS", 0.0)
    docs = news(tmp_path / "docs", 12, langs=("en",))
    index = Index(tmp_path / "ix")
    with pytest.raises(Interrupted) as stopped:
        index.update([str(docs)], workers=1, progress=_InterruptAfter("indexing", 4))
    assert re.fullmatch(r"interrupted: (\d+) of 12 files indexed and committed; run the same command to "
                        r"continue", str(stopped.value))
    done = index.stats().documents
    assert 0 < done < 12 and str(done) in str(stopped.value)
    report = index.update([str(docs)])
    assert (report.unchanged, report.indexed) == (done, 12 - done)


def test_no_text_is_encoded_twice(tmp_path: Path) -> None:
    docs = news(tmp_path / "docs", 3, langs=("en",))
    copies = tmp_path / "copies"
    shutil.copytree(docs, copies)
    alone = Index(tmp_path / "alone").update([str(docs)])
    both = Index(tmp_path / "both").update([str(docs), str(copies)])
    assert both.passages == 2 * alone.passages
    assert (both.encoded, both.reused) == (alone.encoded, alone.passages)  # in one run
    index = Index(tmp_path / "later")
    index.update([str(docs)])
    later = index.update([str(docs), str(copies)])
    assert (later.encoded, later.reused) == (0, alone.passages)  # from the index
    assert index.stats().vectors == both.passages


def test_a_text_still_being_encoded_is_not_encoded_again(tmp_path: Path, monkeypatch) -> None:
    """With workers, the next chunk is read while one is encoded: a copy of a text in flight waits for it."""
    monkeypatch.setattr(vectorize, "VECTOR_CHUNK", 1)
    monkeypatch.setattr(vectorize, "SENTENCES", replace(vectorize.SENTENCES, parallel_from=0))
    docs = tmp_path / "docs"
    docs.mkdir()
    lines = ["Alpha speaks first.", "Alpha speaks first.", "Bravo answers.", "Bravo answers.", "Charlie ends."]
    (docs / "echo.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = Index(tmp_path / "ix").update([str(docs)], workers=2)
    assert (report.passages, report.encoded, report.reused) == (5, 3, 2)


def test_a_run_adds_lists_to_complete_segments_an_older_build_saved_without(tmp_path: Path, monkeypatch) -> None:
    """Lists (stored.Lists) came after indexes were built: a later run adds them, text unchanged."""
    from search.vectors import stored

    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(4):
        (docs / f"{i}.txt").write_text("\n\n".join(f"Paragraph {j} of report {i} on grain exports." for j in range(40)),
                                       encoding="utf-8")
    monkeypatch.setattr(stored, "PROJECT_FROM", 100)
    index = Index(tmp_path / "ix")
    index.update([str(docs)], deep=False, workers=1)
    folder = index.store.vectors_folder(vectorize.SENTENCES.space.folder)
    (segment,) = [s.segment_id() for s in index.store.read().segments]

    def lists() -> stored.Lists | None:
        projection = stored.load(folder, segment, vectorize.SENTENCES.space).projection
        assert projection is not None
        return projection.lists

    assert lists() is None
    monkeypatch.setattr(stored, "LISTS_FROM", 100)
    phases: list[tuple[str, int]] = []

    class Recorded:
        def start(self, label: str, total: int) -> None:
            phases.append((label, total))

        def advance(self, amount: int) -> None:
            pass

    report = index.update([str(docs)], deep=False, workers=1, progress=Recorded())
    assert report.unchanged == 4 and lists() is not None
    assert ("vectors layout", 1) in phases  # a bar: a segment takes seconds at a million passages
    assert index.search("grain exports report 2", lang="en").hits


def test_each_segment_keeps_its_passages_words_and_they_go_with_it(tmp_path: Path, corpus: Path) -> None:
    """With the vector phase, each segment's passages' words are kept as alignment reads them
    (``wordsets``); a segment that goes takes its words with it."""
    index = Index(tmp_path / "ix")
    index.update([str(corpus)], vectors=False)
    folder = index.store.vectors_folder(wordsets.FOLDER)
    assert not folder.exists()  # no vocabulary to align with yet: not needed
    bars: list[tuple[str, int, int]] = []

    class Recorded:
        def start(self, label: str, total: int) -> None:
            bars.append((label, total, 0))

        def advance(self, amount: int) -> None:
            label, total, done = bars[-1]
            bars[-1] = (label, total, done + amount)

    index.update([str(corpus)], deep=False, progress=Recorded())
    (words,) = [bar for bar in bars if bar[0] == "words"]
    assert words[1] == words[2] == index.stats().passages["en"] + index.stats().passages.get("ru", 0) > 0
    with index._snapshots.acquire() as snapshot:
        first = {leaf.segment.segment_id() for leaf in snapshot.leaves}
        docnums = snapshot.passages().docnums.tolist()
        assert docnums and all(snapshot.word_hashes(docnum).tolist()
                               == wordsets.of_text(snapshot.stored(docnum)["text"]).tolist() for docnum in docnums)
    assert {path.name.split(".")[0] for path in folder.iterdir()} == first
    index.update([str(_other_folder(tmp_path))], rebuild=True, deep=False)
    with index._snapshots.acquire() as snapshot:
        again = {leaf.segment.segment_id() for leaf in snapshot.leaves}
    assert {path.name.split(".")[0] for path in folder.iterdir()} == again and not again & first
