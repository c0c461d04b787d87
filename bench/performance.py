"""Indexing and query performance on the WMT news corpus, against stock whoosh.

Lays the ~34k English and ~34k Russian sentences of ../shared/corpora/wmt-news-en-ru
out as files of 20 lines, then reports, at each scale (copies of the corpus):

- indexing by `search index` (embeddings included): time, MB/s, passages/s,
  index size, peak memory; and the same passages indexed by stock whoosh with
  its StemmingAnalyzer, as a speed ratio (stock time / our time: >= 1.0 means
  we are at least as fast);
- query latency p50/p95 of 200 mixed English and Russian queries with
  cross-language lookup on, in one warm process;
- batch throughput of `search query --batch` (a fresh process, start-up included);
- cold start of `search query` on the seeds (process start to results).

    python bench/performance.py [--scales 1,2,4] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpora" / "wmt-news-en-ru"
LINES_PER_FILE = 20
QUERIES = 200

MEASURE = """
import resource, subprocess, sys, time
started = time.perf_counter()
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
elapsed = time.perf_counter() - started
print(code, elapsed, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def measure(command: list[str]) -> tuple[float, float]:
    """Run a command in a fresh process: (seconds, peak resident MB)."""
    out = subprocess.run([sys.executable, "-c", MEASURE, *command], capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout.split()
    if out[0] != "0":
        raise SystemExit(f"failed ({out[0]}): {' '.join(command)}")
    return float(out[1]), int(out[2]) / 1024


def lay_out(folder: Path, copies: int) -> tuple[int, int]:
    """The corpus as files of LINES_PER_FILE lines, ``copies`` times; (files, bytes)."""
    files = size = 0
    for copy in range(copies):
        for source in sorted(CORPUS.glob("*.en")) + sorted(CORPUS.glob("*.ru")):
            lines = source.read_text(encoding="utf-8").splitlines()
            target = folder / f"copy{copy}" / source.name.replace(".", "_")
            target.mkdir(parents=True, exist_ok=True)
            for start in range(0, len(lines), LINES_PER_FILE):
                text = "\n".join(lines[start:start + LINES_PER_FILE]) + "\n"
                (target / f"{start // LINES_PER_FILE:05d}.txt").write_text(text, encoding="utf-8")
                files += 1
                size += len(text.encode("utf-8"))
    return files, size


def stock_whoosh(corpus: str, index: str) -> None:
    """Index the same passages with stock whoosh's StemmingAnalyzer (run in its own process)."""
    warnings.filterwarnings("ignore")
    from whoosh import fields
    from whoosh import index as whoosh_index
    from whoosh.analysis import StemmingAnalyzer

    from search.passages import split_passages

    Path(index).mkdir(parents=True)
    schema = fields.Schema(doc=fields.ID(stored=True), text=fields.TEXT(analyzer=StemmingAnalyzer(), stored=True))
    writer = whoosh_index.create_in(index, schema).writer()
    for path in sorted(Path(corpus).rglob("*.txt")):
        for passage in split_passages(path.read_text(encoding="utf-8")):
            writer.add_document(doc=str(path), text=passage.text)
    writer.commit()


def make_queries(corpus: Path, count: int) -> list[str]:
    """Half English, half Russian: 1-4 consecutive words (3+ letters) from random lines."""
    rng = random.Random(7)
    queries = []
    for suffix in ("en", "ru"):
        lines = (CORPUS / f"newstest2019-{'enru' if suffix == 'en' else 'ruen'}.{suffix}").read_text(
            encoding="utf-8").splitlines()
        while len(queries) < count // 2 * (1 if suffix == "en" else 2):
            words = [w for w in re.findall(r"[^\W\d_]{3,}", rng.choice(lines))]
            if words:
                start = rng.randrange(len(words))
                queries.append(" ".join(words[start:start + rng.randint(1, 4)]))
    return queries


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def query_latency(index: Path, queries: list[str]) -> tuple[float, float]:
    from search import Index

    ix = Index.open(index)
    for query in queries[:5]:
        ix.search(query)  # warm-up: models and caches load once per process
    times = []
    for query in queries:
        started = time.perf_counter()
        ix.search(query)
        times.append(1000 * (time.perf_counter() - started))
    return percentile(times, 50), percentile(times, 95)


def folder_size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", default="1,2,4", help="corpus copies to measure, e.g. 1,2,4")
    parser.add_argument("--workdir", type=Path, help="where corpora and indexes go (default: a temp folder)")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="search-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    search = [sys.executable, "-m", "search"]
    rows = []
    for scale in (int(s) for s in args.scales.split(",")):
        corpus, ours, stock = work / f"corpus-{scale}x", work / f"index-{scale}x", work / f"stock-{scale}x"
        for folder in (corpus, ours, stock):
            shutil.rmtree(folder, ignore_errors=True)
        files, size = lay_out(corpus, scale)
        seconds, peak = measure([*search, "index", str(corpus), "--index", str(ours)])
        stock_seconds, stock_peak = measure([sys.executable, __file__, "--stock", str(corpus), str(stock)])
        from search import Index

        stats = Index.open(ours).stats()
        passages = sum(stats.passages.values())
        queries = make_queries(corpus, QUERIES)
        p50, p95 = query_latency(ours, queries)
        batch = work / "queries.tsv"
        batch.write_text("".join(f"q{i}\t{q}\n" for i, q in enumerate(queries)), encoding="utf-8")
        batch_seconds, _ = measure([*search, "query", "--batch", str(batch), "--json", "--index", str(ours)])
        rows.append({
            "scale": scale, "files": files, "MB": size / 1e6, "passages": passages,
            "index_s": seconds, "MB/s": size / 1e6 / seconds, "passages/s": passages / seconds,
            "index_MB": folder_size(ours) / 1e6, "peak_MB": peak,
            "stock_s": stock_seconds, "stock_peak_MB": stock_peak, "ratio": stock_seconds / seconds,
            "p50_ms": p50, "p95_ms": p95, "batch_q/s": len(queries) / batch_seconds,
        })
        print(json.dumps(rows[-1]), flush=True)
    seeds_index = work / "seeds-index"
    shutil.rmtree(seeds_index, ignore_errors=True)
    measure([*search, "index", str(ROOT / "seeds"), "--index", str(seeds_index)])
    cold = {query: statistics.median(measure([*search, "query", query, "--index", str(seeds_index)])[0]
                                     for _ in range(5))
            for query in ("Rosoboronexport", "defense", "air defense systems in China")}
    print()
    print("scale files    MB passages index_s  MB/s pass/s index_MB peak_MB stock_s ratio p50_ms p95_ms batch_q/s")
    for r in rows:
        print(f"{r['scale']:>4}x {r['files']:5} {r['MB']:5.1f} {r['passages']:8} {r['index_s']:7.1f} "
              f"{r['MB/s']:5.2f} {r['passages/s']:6.0f} {r['index_MB']:8.1f} {r['peak_MB']:7.0f} "
              f"{r['stock_s']:7.1f} {r['ratio']:5.2f} {r['p50_ms']:6.1f} {r['p95_ms']:6.1f} {r['batch_q/s']:9.1f}")
    for query, seconds in cold.items():
        print(f"cold start, search query {query!r} on the seeds: {seconds:.2f} s (median of 5)")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--stock":
        stock_whoosh(sys.argv[2], sys.argv[3])
    else:
        main()
