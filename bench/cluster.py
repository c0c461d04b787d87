"""Indexing on a Dask cluster, and several indexes searched as one.

1. Throughput: the vector phase over WMT news (``--lines`` sentences of each language,
   as files of 20 lines) on ``--cluster local:N`` against the local pool of as many
   processes, each timed on the same text index with the machine's word vectors
   warm; prints passages/s of each and their ratio (cluster / local, target >= 0.9:
   what the cluster's scheduling costs).
2. Union: XQuAD-R's Russian paragraphs as one index and as two indexes of halves
   searched as one (``Index.union``), English questions with ``lang="ru"``; MRR@10 of
   each (target: within 0.005 of each other).

    python bench/cluster.py [--lines 8000] [--workers 2] [--sample N] [--skip throughput|union]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import xquad  # bench/xquad.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpora" / "wmt-news-en-ru"
LINES_PER_FILE = 20


def lay_out(folder: Path, lines: int) -> int:
    """The first ``lines`` sentences of each language (over the corpus's files in order) as files of
    LINES_PER_FILE lines; returns how many files."""
    files = 0
    for lang in ("en", "ru"):
        left = lines
        for source in sorted(CORPUS.glob(f"*.{lang}")):
            text = source.read_text(encoding="utf-8").splitlines()[:left]
            left -= len(text)
            target = folder / source.name.replace(".", "_")
            target.mkdir(parents=True, exist_ok=True)
            for start in range(0, len(text), LINES_PER_FILE):
                (target / f"{start // LINES_PER_FILE:05d}.txt").write_text(
                    "\n".join(text[start:start + LINES_PER_FILE]) + "\n", encoding="utf-8")
                files += 1
    return files


def vector_phase(index_folder: Path, workers: int, cluster: object | None) -> tuple[int, float]:
    """Run the vector phase alone on a text index: (passages encoded or reused, seconds)."""
    from search.indexer import COMMIT_SECONDS, _Silent
    from search.storage.store import Store
    from search.vectors import vectorize

    tally = vectorize.Count()
    with Store(index_folder).writer() as writer:
        started = time.perf_counter()
        vectorize.fill(writer, vectorize.SENTENCES, tally, _Silent(), workers, COMMIT_SECONDS, cluster)  # type: ignore[arg-type]
        elapsed = time.perf_counter() - started
    return tally.encoded + tally.reused, elapsed


def throughput(work: Path, lines: int, workers: int) -> None:
    from search import Index
    from search.workers.cluster import connect

    files = lay_out(work / "docs", lines)
    text = work / "text"
    Index(text).update([str(work / "docs")], vectors=False)
    for name in ("warm-up", "local", "cluster"):
        shutil.rmtree(work / name, ignore_errors=True)
        shutil.copytree(text, work / name)
    vector_phase(work / "warm-up", workers, None)  # the machine's word vector cache, as both runs then find it
    passages, local = vector_phase(work / "local", workers, None)
    with connect(f"local:{workers}") as cluster:
        _, remote = vector_phase(work / "cluster", workers, cluster)
    print(f"vector phase, {files} files, {passages} passages, {workers} workers:")
    print(f"  local pool      {local:6.1f} s  {passages / local:7.0f} passages/s")
    print(f"  --cluster local:{workers} {remote:6.1f} s  {passages / remote:7.0f} passages/s")
    print(f"  ratio (cluster / local throughput) {local / remote:.2f} (target >= 0.9)")


def union(work: Path, sample: int) -> None:
    from search import Cross, Index

    paragraphs, _ = xquad.load("ru")
    _, questions = xquad.load("en")
    questions = questions[::sample or 1]
    names = sorted(paragraphs)
    halves = {"first": names[:len(names) // 2], "second": names[len(names) // 2:]}
    for half, chosen in halves.items():
        folder = work / "ru" / half
        folder.mkdir(parents=True, exist_ok=True)
        for name in chosen:
            (folder / name).write_text(paragraphs[name], encoding="utf-8")
    whole = Index(work / "whole")
    whole.update([str(work / "ru")], rebuild=True)
    parts = []
    for half in halves:
        part = Index(work / half)
        part.update([str(work / "ru" / half)], rebuild=True)
        parts.append(part)
    with Index.union([part.store.path for part in parts]) as both:
        one = xquad.evaluate(whole, questions, "ru", Cross())
        two = xquad.evaluate(both, questions, "ru", Cross())  # type: ignore[arg-type]
    print(f"XQuAD-R en->ru, {len(questions)} questions, {len(names)} Russian paragraphs:")
    print(f"  one index       MRR@10 {one['mrr@10']:.4f}  R@10 {one['recall@10']:.3f}  {one['ms/query']:.1f} ms/q")
    print(f"  two as one      MRR@10 {two['mrr@10']:.4f}  R@10 {two['recall@10']:.3f}  {two['ms/query']:.1f} ms/q")
    print(f"  difference      {abs(one['mrr@10'] - two['mrr@10']):.4f} (target <= 0.005)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=8000, help="WMT sentences of each language (throughput)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="processes, local and on the cluster")
    parser.add_argument("--sample", type=int, default=0, help="use every Nth XQuAD question only (0: all)")
    parser.add_argument("--skip", choices=["throughput", "union"], default=None)
    parser.add_argument("--workdir", type=Path, default=None, help="keep files and indexes here")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="cluster-bench-"))
    if args.skip != "throughput":
        throughput(work / "throughput", args.lines, args.workers)
    if args.skip != "union":
        union(work / "union", args.sample)


if __name__ == "__main__":
    main()
