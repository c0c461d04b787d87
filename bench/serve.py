"""`search serve` under load against the same queries in one process (issue 26): is a query over
HTTP, with 8 clients at once, about what it costs the CLI in a batch?

The index is NTREX-128 news (123 documents, each its body as a file in English and in Russian).
The queries are realistic: the headlines of 8-15 words, and 1-2 word names taken from them
(capitalised words past a headline's first), in both languages. First every query runs in this
process through the API one after another, as ``search query --batch`` runs them (the batch's
per-query cost); then a real ``search serve`` answers ``/api/search`` for 8 threads at once,
each with its own keep-alive http.client connection, and for 1 thread alone. It prints p50 and
p95 per query of each, and the ratios against the batch (the issue's target: within 1.5x).

    python bench/serve.py [--index DIR] [--clients 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

from search import Index

sys.path.insert(0, str(Path(__file__).resolve().parent))
from short import FILES, documents  # noqa: E402

NAMES_PER_LANG = 30


def queries(docs: list[dict[str, tuple[str, str]]]) -> list[tuple[str, str]]:
    """(kind, text): headlines of 8-15 words, then names of 1-2 words, in both languages."""
    found = []
    for lang in FILES:
        headlines = [doc[lang][0] for doc in docs if 8 <= len(doc[lang][0].split()) <= 15]
        found += [(f"headline {lang}", text) for text in headlines]
        names: list[str] = []
        for text in headlines:
            words = re.findall(r"\w[\w'’-]*", text)
            for i in range(1, len(words)):
                if words[i][0].isupper() and not words[i].isupper():
                    pair = i + 1 < len(words) and words[i + 1][0].isupper()
                    name = f"{words[i]} {words[i + 1]}" if pair else words[i]
                    if name not in names:
                        names.append(name)
        found += [(f"name {lang}", name) for name in names[:NAMES_PER_LANG]]
    return found


def build(folder: Path, docs: list[dict[str, tuple[str, str]]]) -> Path:
    files = folder / "ntrex"
    files.mkdir()
    for number, doc in enumerate(docs):
        for lang, (_, body) in doc.items():
            (files / f"{lang}{number:03}.txt").write_text(body + "\n", encoding="utf-8")
    with Index(folder / "index") as index:
        index.update([str(files)])
    return folder / "index"


def batch(index_path: Path, asked: list[tuple[str, str]], rounds: int) -> dict[str, list[float]]:
    """Seconds per query, by kind, run one after another in this process (as --batch runs them)."""
    times: dict[str, list[float]] = {}
    with Index.open(index_path) as index:
        for _, text in asked[:5]:
            index.search(text)  # loads the encoder, vectors and vocabularies, as the server does at start
        for _ in range(rounds):
            for kind, text in asked:
                start = time.perf_counter()
                index.search(text)
                times.setdefault(kind, []).append(time.perf_counter() - start)
    return times


class Server:
    def __init__(self, index_path: Path) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "search", "serve", "--index", str(index_path),
                                         "--port", "0"], stderr=subprocess.PIPE, text=True)
        for line in self.process.stderr:  # type: ignore[union-attr]
            found = re.search(r"http://(\S+?):(\d+)/", line)
            if found:
                self.host, self.port = found.group(1), int(found.group(2))
                return
        raise SystemExit("search serve did not start")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        self.process.wait(30)


def load(server: Server, asked: list[tuple[str, str]], rounds: int, clients: int) -> tuple[dict[str, list[float]], float]:
    """Seconds per request, by kind, with ``clients`` threads asking at once; and the wall time."""
    work = [item for _ in range(rounds) for item in asked]
    times: dict[str, list[float]] = {}
    lock = threading.Lock()
    position = iter(range(len(work)))

    def client() -> None:
        connection = http.client.HTTPConnection(server.host, server.port, timeout=120)
        for i in iter(lambda: next(position, None), None):
            kind, text = work[i]  # type: ignore[index]
            start = time.perf_counter()
            connection.request("GET", "/api/search?" + urlencode({"q": text}))
            response = connection.getresponse()
            body = response.read()
            took = time.perf_counter() - start
            if response.status != 200:
                raise SystemExit(f"{response.status} for {text!r}: {body[:200]!r}")
            json.loads(body)
            with lock:
                times.setdefault(kind, []).append(took)
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return times, time.perf_counter() - start


def _p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def _row(label: str, values: list[float]) -> str:
    return f"  {label:13} n={len(values):4}  p50 {1000 * _p(values, 50):7.1f} ms  p95 {1000 * _p(values, 95):7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, help="an index of NTREX-128 already built by this script")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="times each query is asked")
    args = parser.parse_args()
    docs = documents()
    asked = queries(docs)
    with tempfile.TemporaryDirectory() as folder:
        index_path = args.index or build(Path(folder), docs)
        kinds = sorted({kind for kind, _ in asked})
        print(f"{len(asked)} queries ({', '.join(f'{sum(k == kind for k, _ in asked)} {kind}' for kind in kinds)}), "
              f"x{args.rounds}, on {index_path}")
        alone = batch(index_path, asked, args.rounds)
        server = Server(index_path)
        try:
            load(server, asked[:5], 1, 1)  # the server warmed up at start; this opens its connections' paths
            single, single_wall = load(server, asked, args.rounds, 1)
            loaded, wall = load(server, asked, args.rounds, args.clients)
        finally:
            server.stop()
    every = {name: [t for times in runs.values() for t in times]
             for name, runs in (("batch", alone), ("serve-1", single), (f"serve-{args.clients}", loaded))}
    for name, runs in (("in-process batch (API, one after another)", alone), ("search serve, 1 client", single),
                       (f"search serve, {args.clients} clients at once", loaded)):
        print(name)
        for kind in kinds:
            print(_row(kind, runs[kind]))
        print(_row("all", [t for times in runs.values() for t in times]))
    batch_mean = statistics.fmean(every["batch"])
    requests = len(every[f"serve-{args.clients}"])
    print(f"batch: {1000 * batch_mean:.1f} ms a query (mean)")
    print(f"serve, 1 client: {1000 * single_wall / len(every['serve-1']):.1f} ms a query (wall / queries) = "
          f"{single_wall / len(every['serve-1']) / batch_mean:.2f}x the batch's per-query cost; "
          f"p50 {_p(every['serve-1'], 50) / _p(every['batch'], 50):.2f}x the batch's p50")
    print(f"serve, {args.clients} clients: {1000 * wall / requests:.1f} ms a query (wall / queries) = "
          f"{wall / requests / batch_mean:.2f}x the batch's per-query cost; "
          f"latency p50 {_p(every[f'serve-{args.clients}'], 50) / _p(every['batch'], 50):.2f}x the batch's p50 "
          f"(queries wait their turn: one read of the index at a time)")


if __name__ == "__main__":
    main()
