"""Indexing on a Dask cluster (``search index --cluster``): the same index as a local build, files
read (OCR included) on the workers from the bytes sent them, a worker lost mid-phase costs nothing,
and an unreachable scheduler is one clear line."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
import zipfile
from pathlib import Path

import pytest

pytest.importorskip("distributed")

from search import Index, indexer  # noqa: E402
from search.ingest import ocr  # noqa: E402
from search.storage.schema import FILE, KIND, PASSAGE  # noqa: E402
from search.workers.cluster import Cluster, connect  # noqa: E402

from ..conftest import news  # noqa: E402
from ..ingest.test_ocr import ENGLISH, RUSSIAN, needs_tesseract, scan  # noqa: E402

pytestmark = pytest.mark.cluster

QUERIES = ["Rosoboronexport", "президент России", "football match", "выборы в парламент", "oil prices"]


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return news(tmp_path_factory.mktemp("cluster") / "docs", 60)


@pytest.fixture(scope="module")
def local_index(docs: Path) -> Index:
    index = Index(docs.parent / "local")
    index.update([str(docs)], deep=False)
    return index


@pytest.fixture()
def cluster() -> Cluster:
    with connect("local:2") as connected:
        yield connected


def _same(index: Index, reference: Index) -> None:
    """The same documents, passages and vectors, and the same hits with the same scores."""
    mine, theirs = index.stats(), reference.stats()
    assert (mine.documents, mine.passages, mine.vectors) == (theirs.documents, theirs.passages, theirs.vectors)
    assert mine.vectors == sum(mine.passages.values())
    for query in QUERIES:
        got = [(h.doc, h.passage, h.score) for h in index.search(query, limit=10).hits]
        want = [(h.doc, h.passage, h.score) for h in reference.search(query, limit=10).hits]
        assert [hit[:2] for hit in got] == [hit[:2] for hit in want], query
        assert [hit[2] for hit in got] == pytest.approx([hit[2] for hit in want], abs=1e-5), query


def test_a_cluster_builds_the_same_index_as_this_machine(docs: Path, local_index: Index, cluster: Cluster,
                                                         tmp_path: Path) -> None:
    with Index(tmp_path / "index") as index:
        report = index.update([str(docs)], deep=False, cluster=cluster)
        assert report.indexed == 60 and report.vectors_missing == 0
        _same(index, local_index)


class _KillWorker:
    """Progress that, once ``phase`` starts, kills a worker process in the middle of a task."""

    def __init__(self, cluster: Cluster, phase: str) -> None:
        self.cluster, self.phase, self.killed = cluster, phase, threading.Event()

    def start(self, label: str, total: int) -> None:
        if label == self.phase:
            threading.Thread(target=self._kill, daemon=True).start()

    def advance(self, amount: int) -> None:
        pass

    def _kill(self) -> None:
        client = self.cluster.client
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            busy = [worker for worker, tasks in client.processing().items() if tasks]
            if busy:
                (pid,) = client.run(os.getpid, workers=busy[:1]).values()
                os.kill(pid, signal.SIGKILL)
                self.killed.set()
                return
            time.sleep(0.01)


@pytest.mark.parametrize("phase", ["indexing", "vectors"])
def test_a_worker_killed_mid_phase_loses_nothing(docs: Path, local_index: Index, cluster: Cluster, tmp_path: Path,
                                                 phase: str) -> None:
    killer = _KillWorker(cluster, phase)
    with Index(tmp_path / "index") as index:
        report = index.update([str(docs)], deep=False, cluster=cluster, progress=killer)
        assert killer.killed.is_set()
        assert report.indexed == 60 and report.vectors_missing == 0
        _same(index, local_index)


def test_an_unreachable_scheduler_is_exit_2_and_one_line(docs: Path, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", "from search.launch import main; main()", "index", str(docs), "--index",
                             str(tmp_path / "index"), "--cluster", f"tcp://127.0.0.1:{port}"],
                            capture_output=True, text=True, timeout=60)
    assert time.monotonic() - started < 30
    assert result.returncode == 2
    assert f"cannot reach the cluster at 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "index").exists()


def test_a_bad_address_is_exit_2(docs: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from search.cli import app

    result = CliRunner().invoke(app, ["index", str(docs), "--index", str(tmp_path / "index"), "--cluster", "nowhere"])
    assert result.exit_code == 2 and "expected tcp://HOST:PORT or local:N" in result.output


def test_search_index_reaches_a_running_scheduler(docs: Path, local_index: Index, tmp_path: Path) -> None:
    from distributed import LocalCluster
    from typer.testing import CliRunner

    from search.cli import app

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as running:
        result = CliRunner().invoke(app, ["index", str(docs), "--index", str(tmp_path / "index"), "--no-deep",
                                          "--cluster", running.scheduler_address])
    assert result.exit_code == 0, result.output
    with Index(tmp_path / "index") as index:
        _same(index, local_index)


def test_the_deep_phase_runs_on_the_cluster_too(cluster: Cluster, tmp_path: Path) -> None:
    docs = news(tmp_path / "docs", 4, start=40)
    local, remote = Index(tmp_path / "local"), Index(tmp_path / "remote")
    local.update([str(docs)])
    report = remote.update([str(docs)], cluster=cluster)
    assert report.deep_missing == 0 and report.deep_encoded > 0
    assert remote.stats().deep == local.stats().deep == sum(local.stats().passages.values())
    for query in QUERIES:
        want = [(h.doc, h.passage, h.score) for h in local.search(query).hits]
        got = [(h.doc, h.passage, h.score) for h in remote.search(query).hits]
        assert [hit[:2] for hit in got] == [hit[:2] for hit in want], query
        assert [hit[2] for hit in got] == pytest.approx([hit[2] for hit in want], abs=1e-5), query


def _records(index: Index) -> list[dict]:
    """Every file's and passage's stored fields: each passage's text, page and line, each file's stamp
    (its sha1 and format among them)."""
    with index.snapshot() as snapshot:
        return sorted((snapshot.stored(docnum) for kind in (FILE, PASSAGE)
                       for docnum in snapshot.scorer.term(KIND, kind).docnums.tolist()), key=repr)


def _hits(index: Index, queries: list[str]) -> list[list[tuple]]:
    return [[(Path(h.doc).name, h.member, h.passage, h.page, h.line, round(h.score, 5))
             for h in index.search(query, limit=10, cross=False).hits] for query in queries]


@needs_tesseract
def test_images_and_scanned_pages_are_read_by_ocr_on_the_workers(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    docs = news(tmp_path / "docs", 4)
    scan(ENGLISH).save(docs / "letter.png")
    scan(RUSSIAN).save(docs / "письмо.png")
    scan(["Annual report on arms exports."]).save(docs / "scan.pdf", save_all=True,
                                                   append_images=[scan(["", "", *RUSSIAN])])
    queries = ["Rosoboronexport", "Рособоронэкспорт", "зенитных", "arms exports", "президент России"]
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache-here"))
    with Index(tmp_path / "local") as local:
        assert local.update([str(docs)], vectors=False).indexed == 7
        want = _records(local), _hits(local, queries)

    def never(_: bytes) -> str:
        raise AssertionError("OCR ran in the calling process")

    monkeypatch.setattr(ocr, "_tesseract", never)
    workers_cache = tmp_path / "cache-workers"
    monkeypatch.setenv("XDG_CACHE_HOME", str(workers_cache))  # empty: every page is read again, by the workers
    with connect("local:2") as cluster, Index(tmp_path / "remote") as remote:
        report = remote.update([str(docs)], vectors=False, cluster=cluster)
        assert report.indexed == 7 and not report.skipped
        assert (_records(remote), _hits(remote, queries)) == want
        found = {(Path(h.doc).name, h.page) for h in remote.search("зенитных", cross=False).hits}
        assert found == {("письмо.png", None), ("scan.pdf", 2)}
        assert remote.search("arms exports", limit=1, cross=False).hits[0].page == 1
    assert len(list((workers_cache / "search" / "ocr").glob("*.txt"))) == 4  # two images, two PDF pages


def test_a_file_over_sent_bytes_is_read_here_the_others_on_the_workers(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A file over ``indexer.SENT_BYTES`` (lowered here to 12 MB) is read in this process, an archive
    streamed from disk, and sent as its text; an 11 MB zip travels as bytes without Dask's warning of
    tasks over 10 MB; a file that cannot be read is skipped with the reason, as in a local build."""
    docs = news(tmp_path / "docs", 2)
    noise = os.urandom(11 << 20)  # an unsupported member: read past, and only weighs
    with zipfile.ZipFile(docs / "big.zip", "w") as archive:
        archive.writestr("noise.bin", noise)
        archive.writestr("note.txt", "Submarines of the Pacific fleet returned to Vladivostok.")
    with zipfile.ZipFile(docs / "huge.zip", "w") as archive:
        archive.writestr("noise.bin", noise + os.urandom(2 << 20))
        archive.writestr("отчёт.txt", "Рособоронэкспорт подписал контракт на поставку зенитных комплексов.")
    (docs / "mem.txt").symlink_to("/proc/self/mem")  # every process that reads it fails: EIO
    queries = ["Vladivostok", "зенитных комплексов", "президент России"]
    with Index(tmp_path / "local") as local:
        expected = local.update([str(docs)], vectors=False)
        want = _records(local), _hits(local, queries)
    assert expected.indexed == 4 and [reason for _, reason in expected.skipped] == ["Input/output error"]
    monkeypatch.setattr(indexer, "SENT_BYTES", 12 << 20)
    read_here: list[tuple[str, bytes | None]] = []
    read = indexer.read

    def watched(source, data=None):  # type: ignore[no-untyped-def]
        read_here.append((Path(source.path).name, data))
        return read(source, data)

    monkeypatch.setattr(indexer, "read", watched)
    with connect("local:2") as cluster, Index(tmp_path / "remote") as remote, \
            warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        report = remote.update([str(docs)], vectors=False, cluster=cluster)
        assert (report.indexed, report.skipped) == (4, expected.skipped)
        assert (_records(remote), _hits(remote, queries)) == want
    assert read_here == [("huge.zip", None)]  # None: streamed from disk
    assert not [w for w in warned if "large graph" in str(w.message)]
