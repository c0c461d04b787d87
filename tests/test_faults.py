"""Fault injection: builds killed at random points, a full disk, two writers, readers during a
write, and files that cannot be read or have odd names. Nothing committed is lost and no run
leaves an index that cannot be opened or continued.

Marked ``faults``: ``pytest -m faults`` runs them alone, ``-m "not faults"`` leaves them out.
SEARCH_FAULT_SEED replays the kill points of a failed run (each test prints its seed).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from search import Index
from search.errors import IndexBusy, IndexMissing
from search.storage.store import Store

from .conftest import ROOT, news

pytestmark = pytest.mark.faults

KILLS = 22
"""kill -9 points per run of the suite (the issue asks for 20 or more)."""
COMMIT_SECONDS = 0.3
"""The builds under test commit this often (30 s in use), so that kills fall between commits."""
CHILD = """
import sys
from dataclasses import replace
from search import indexer
from search.vectors import vectorize
indexer.COMMIT_SECONDS = float(sys.argv[1])
vectorize.SENTENCES = replace(vectorize.SENTENCES, parallel_from=100)  # the encoder's workers are killed too
vectorize.DEEP = replace(vectorize.DEEP, parallel_from=100)
sys.argv = ["search", *sys.argv[2:]]
from search.launch import main
main()
"""
QUERY = "military cooperation with China"


def _build(corpus: Path, index: Path, wrapper: tuple[str, ...] = (), deep: bool = False) -> subprocess.Popen:
    """``search index`` in a process of its own (``wrapper``: a command that runs it). The deep
    phase costs 30-80x the vector phase, so only the tests about it run it."""
    return subprocess.Popen([*wrapper, sys.executable, "-c", CHILD, str(COMMIT_SECONDS), "index", str(corpus),
                             "--index", str(index), *(() if deep else ("--no-deep",))], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _killed_within(process: subprocess.Popen, seconds: float) -> bool:
    """kill -9 the process ``seconds`` after now unless it ends first (no waiting past its end);
    whether it was killed."""
    try:
        process.wait(timeout=seconds)
        return False
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.wait()
        return True


def _finished(process: subprocess.Popen) -> tuple[int, str]:
    _, err = process.communicate(timeout=300)
    assert "Traceback" not in err, err
    return process.returncode, err


def _state(index: Path) -> tuple[int, int, int, list[tuple[str, int]], int]:
    """Documents, passages, vectors, the best hits of a query and deep vectors: what a reader sees."""
    with Index.open(index) as ix:
        stats = ix.stats()
        hits = [(hit.doc, hit.passage) for hit in ix.search(QUERY).hits]
    return stats.documents, sum(stats.passages.values()), stats.vectors, hits, stats.deep


def _seed(request: pytest.FixtureRequest) -> random.Random:
    seed = int(os.environ.get("SEARCH_FAULT_SEED") or time.time_ns() % 1_000_000)
    print(f"{request.node.name}: SEARCH_FAULT_SEED={seed}")
    return random.Random(seed)


def test_builds_killed_at_random_points_converge_to_a_fresh_build(tmp_path: Path, request) -> None:  # type: ignore[no-untyped-def]
    corpus = news(tmp_path / "corpus", 80)
    assert _finished(_build(corpus, tmp_path / "fresh"))[0] == 0
    fresh = _state(tmp_path / "fresh")
    assert fresh[1] > 500 and fresh[2] == fresh[1]
    # Kill points span a build as long as the killed ones take: the first build fills the machine's
    # caches (lemmas, word vectors) and takes several times as long, so a test run alone drew
    # most points after the builds had ended.
    started = time.monotonic()
    assert _finished(_build(corpus, tmp_path / "again"))[0] == 0
    duration = time.monotonic() - started
    assert _state(tmp_path / "again") == fresh
    rng = _seed(request)
    kills = rounds = 0
    while kills < KILLS:
        rounds += 1
        assert rounds <= 3 * KILLS, "the builds kept finishing before the kill"
        index = tmp_path / f"killed{rounds}"
        for _ in range(4):
            kills += _killed_within(_build(corpus, index), rng.uniform(0.05, duration))
            if Store(index).exists():
                documents, passages, vectors, *_ = _state(index)  # opens, answers
                assert documents <= fresh[0] and passages <= fresh[1] and vectors <= passages
            elif index.exists():  # killed after making the folder, before its first commit: no index yet
                with pytest.raises(IndexMissing, match="no index at"):
                    Index.open(index)
        assert _finished(_build(corpus, index))[0] == 0  # the same command continues
        assert _state(index) == fresh
    print(f"{kills} kills in {rounds} rounds of builds, each round continued to the fresh build's {fresh[1]} passages")


def test_builds_killed_in_the_deep_phase_continue_it_to_a_fresh_build(tmp_path: Path, request) -> None:  # type: ignore[no-untyped-def]
    corpus = news(tmp_path / "corpus", 12)
    fresh_index, index = tmp_path / "fresh", tmp_path / "killed"
    for folder in (fresh_index, index):
        assert _finished(_build(corpus, folder))[0] == 0  # text and vectors, as --no-deep leaves them
    started = time.monotonic()
    assert _finished(_build(corpus, fresh_index, deep=True))[0] == 0
    duration = time.monotonic() - started
    fresh = _state(fresh_index)
    assert fresh[4] == fresh[1] > 60
    shutil.copytree(index, tmp_path / "no-deep")
    rng, kills, rounds = _seed(request), 0, 0
    while (_state(index)[4] < fresh[4] or not kills) and kills < 6:
        rounds += 1
        assert rounds <= 12, "the builds kept finishing before the kill"
        if _state(index)[4] == fresh[4]:  # finished before its kill: from the start of the phase again
            shutil.rmtree(index)
            shutil.copytree(tmp_path / "no-deep", index)
        # mostly past the start-up, into the deep phase
        kills += _killed_within(_build(corpus, index, deep=True), rng.uniform(0.2, 0.8) * duration)
        documents, passages, vectors, _, deep = _state(index)  # opens, answers
        assert (documents, passages, vectors) == fresh[:3] and deep <= passages
    assert _finished(_build(corpus, index, deep=True))[0] == 0
    assert _state(index) == fresh


@pytest.fixture()
def tmpfs(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A 6 MB tmpfs (root and a mount command needed), unmounted afterwards."""
    folder = tmp_path / "small"
    folder.mkdir()
    try:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(folder)],
                                 capture_output=True).returncode == 0
    except OSError:
        mounted = False
    if not mounted:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield folder
    finally:
        import gc

        gc.collect()
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def test_a_full_disk_stops_the_build_with_a_clear_error_and_keeps_the_last_commit(tmp_path: Path,
                                                                                   tmpfs: Path) -> None:
    small, large = news(tmp_path / "small", 10), news(tmp_path / "large", 600, start=10)
    index = tmpfs / "index"
    assert _finished(_build(small, index))[0] == 0
    before = _state(index)
    code, err = _finished(_build(large, index))
    assert code == 2 and "No space left on device" in err and str(index) in err and "last commit is intact" in err
    documents, passages, vectors, *_ = _state(index)  # the last commit opens and answers
    assert documents >= before[0] and passages >= before[1]
    subprocess.run(["mount", "-o", "remount,size=200m", str(tmpfs)], check=True)
    assert _finished(_build(large, index))[0] == 0  # room again: the same command continues
    fresh = tmp_path / "fresh"
    assert _finished(_build(small, fresh))[0] == 0 and _finished(_build(large, fresh))[0] == 0
    assert _state(index)[:3] == _state(fresh)[:3]


def test_two_writers_at_once_take_turns_and_both_files_sets_are_indexed(tmp_path: Path) -> None:
    first, second = news(tmp_path / "first", 60), news(tmp_path / "second", 60, start=30)
    index = tmp_path / "index"
    writers = [_build(first, index), _build(second, index)]
    finished = [_finished(w) for w in writers]
    assert [code for code, _ in finished] == [0, 0], finished
    with Index.open(index) as ix:
        assert ix.stats().documents == 60 + 60
        assert ix.stats().vectors == sum(ix.stats().passages.values())


def test_two_first_runs_at_once_both_succeed(tmp_path: Path) -> None:
    """Both find no index, so both would create one: the second used to fail on the first's
    table of contents (whoosh: "File '_passages_0.toc' exists") about one time in six."""
    corpora = [news(tmp_path / name, 2, start=i) for i, name in enumerate(("a", "b"))]
    for attempt in range(16):
        index = tmp_path / f"index{attempt}"
        runs = [subprocess.Popen([sys.executable, "-m", "search", "index", str(c), "--index", str(index),
                                  "--no-vectors"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True) for c in corpora]
        finished = [_finished(run) for run in runs]
        assert [code for code, _ in finished] == [0, 0], finished
        with Index.open(index) as ix:
            assert ix.stats().documents == 4


def test_a_writer_that_waits_too_long_gives_up_with_a_clear_error(tmp_path: Path) -> None:
    index = Index(tmp_path / "index")
    index.update([str(news(tmp_path / "corpus", 4))])
    with index.store.writer():
        with pytest.raises(IndexBusy, match="being written by another process"):
            index.store.writer(timeout=0.2)


def test_readers_during_a_write_see_whole_commits_only(tmp_path: Path) -> None:
    index = tmp_path / "index"
    first = news(tmp_path / "corpus", 20)
    assert _finished(_build(first, index))[0] == 0
    news(first, 300, start=20)
    writer = _build(first, index)
    seen = []
    with Index.open(index) as ix:
        while writer.poll() is None:
            stats = ix.stats()
            passages = sum(stats.passages.values())
            assert stats.vectors <= passages
            assert ix.search(QUERY).hits
            seen.append((stats.documents, passages))
    assert _finished(writer)[0] == 0
    assert seen == sorted(seen), "a reader saw the index shrink"
    assert len(set(seen)) > 1, "no commit happened while the reader read"
    print(f"{len(seen)} reads during the write saw {len(set(seen))} commits, none shrinking")


def test_unreadable_files_symlink_loops_and_odd_names_are_skipped_or_indexed_by_name(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    text = "Rosoboronexport signed a contract for air defense systems.\n"
    odd = {"line\nbreak.txt": text, "tab\tand space .txt": text, "ДОКУМЕНТ.txt": text,
           "x" * 250 + ".txt": text}
    for name, body in odd.items():
        (corpus / name).write_text(body, encoding="utf-8")
    (corpus / os.fsdecode(b"not-utf8-\xff\xfe.txt")).write_text(text, encoding="utf-8")
    deep = corpus
    for _ in range(12):  # a path longer than 3,000 bytes
        deep = deep / ("d" * 250)
    deep.mkdir(parents=True)
    (deep / "deep.txt").write_text(text, encoding="utf-8")
    (corpus / "loop-a.txt").symlink_to(corpus / "loop-b.txt")
    (corpus / "loop-b.txt").symlink_to(corpus / "loop-a.txt")
    (corpus / "self").symlink_to(corpus)  # a folder loop
    (corpus / "dangling.txt").symlink_to(corpus / "nowhere.txt")
    locked = corpus / "locked.txt"
    locked.write_text(text, encoding="utf-8")
    locked.chmod(0)
    index = tmp_path / "index"
    wrapper: tuple[str, ...] = ()
    if os.geteuid() == 0:  # root reads any file: the build runs without the capabilities that allow it
        if not shutil.which("setpriv"):
            pytest.skip("root, and no setpriv to drop the capability to read any file")
        wrapper = ("setpriv", "--bounding-set=-dac_override,-dac_read_search")
    code, err = _finished(_build(corpus, index, wrapper))
    assert code == 0, err
    assert "locked.txt" in err  # named in a warning
    with Index.open(index) as ix:
        assert ix.stats().documents == len(odd) + 2  # the odd names, the non-UTF-8 one, the deep one
    for output in ([], ["--json"]):
        result = subprocess.run([sys.executable, "-m", "search", "query", "Rosoboronexport", "--index", str(index),
                                 "--limit", "20", *output], cwd=ROOT, capture_output=True)
        assert result.returncode == 0 and b"Traceback" not in result.stderr, result.stderr
        if output:
            docs = [json.loads(line)["doc"] for line in result.stdout.splitlines()]
            assert len(docs) == len(odd) + 2 and any("line\nbreak" in d for d in docs)
