"""Short queries across languages against the same queries in their own language (the short-query
issue): NTREX-128 news, 123 documents in English and Russian.

Each document's body (its lines after the headline) is a file in each language. Each headline,
cut to its first N words (4 and 6, as people type; and whole), is a query for its document's
body: in the other language (--lang, cross-language) and in its own (monolingual, the same
words). MRR@10 of the document (its best passage's rank), and cross as a share of monolingual
(the issue asks for 0.97 or more). Documents are split by position: even ones are the tuning
split, odd ones are never tuned on; both are printed.

    python bench/short.py [--words 4,6,0] [--split tune|held-out|both]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from search import Index

NTREX = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "ntrex128-en-ru"
FILES = {"en": "newstest2019-src.eng.txt", "ru": "newstest2019-ref.rus.txt"}
K = 10


def documents() -> list[dict[str, tuple[str, str]]]:
    """Per document, per language: (headline, body)."""
    ids = (NTREX / "DOCUMENT_IDS.tsv").read_text(encoding="utf-8").split()
    lines = {lang: (NTREX / name).read_text(encoding="utf-8").replace("\r", "").splitlines()
             for lang, name in FILES.items()}
    order = list(dict.fromkeys(ids))
    found = []
    for doc in order:
        rows = [i for i, d in enumerate(ids) if d == doc]
        found.append({lang: (lines[lang][rows[0]], "\n".join(lines[lang][i] for i in rows[1:])) for lang in FILES})
    return found


def mrr(index: Index, queries: list[tuple[str, str]], lang: str) -> float:
    """MRR@10 of each query's document (file name) among passages of ``lang``."""
    total = 0.0
    for text, name in queries:
        seen: list[str] = []
        for hit in index.search(text, limit=50, lang=lang).hits:
            doc = Path(hit.doc).stem
            if doc not in seen:
                seen.append(doc)
            if len(seen) > K:
                break
        if name in seen[:K]:
            total += 1.0 / (seen.index(name) + 1)
    return total / len(queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--words", default="4,6,0", help="query lengths in words, 0 for whole headlines")
    parser.add_argument("--split", default="both", choices=("tune", "held-out", "both"))
    args = parser.parse_args()
    docs = documents()
    work = Path(tempfile.mkdtemp(prefix="search-short-"))
    for lang in FILES:
        (work / "docs" / lang).mkdir(parents=True)
        for i, doc in enumerate(docs):
            (work / "docs" / lang / f"{i:03d}.txt").write_text(doc[lang][1], encoding="utf-8")
    splits = {"tune": range(0, len(docs), 2), "held-out": range(1, len(docs), 2)}
    chosen = list(splits) if args.split == "both" else [args.split]
    print("NTREX-128 headlines -> document bodies, MRR@10 of the document; cross as a share of monolingual")
    print(f"{'split':9} {'words':5} {'query':5} {'cross':>6} {'mono':>6} {'share':>6}")
    with Index(work / "index") as index:
        index.update([str(work / "docs")])
        for split in chosen:
            for words in (int(w) for w in args.words.split(",")):
                for source, target in (("en", "ru"), ("ru", "en")):
                    queries = [(" ".join(docs[i][source][0].split()[:words or None]), f"{i:03d}")
                               for i in splits[split]]
                    cross, mono = mrr(index, queries, target), mrr(index, queries, source)
                    share = cross / mono
                    print(f"{split:9} {words or 'all':>5} {source}->{target} {cross:6.3f} {mono:6.3f} {share:6.2f}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
