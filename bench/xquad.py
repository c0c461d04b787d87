"""Cross-language retrieval quality on XQuAD-R (English + Russian).

Indexes the 240 English and 240 Russian paragraphs of ../shared/corpora/xquad-r-en-ru
as files (one per paragraph), runs the 1,190 questions of each language against the
other language's passages (and against their own, for reference), and reports MRR@10
and Recall@10 of the question's paragraph, with an ablation of the cross-language
mechanisms.

    python bench/xquad.py [--sample N] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from search import Cross, Index
from search.languages import other

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "xquad-r-en-ru"
K = 10

RUNS = {
    "all": Cross(),
    "lexicon": Cross(lexicon=True, names=False, embeddings=False),
    "names": Cross(lexicon=False, names=True, embeddings=False),
    "embeddings": Cross(lexicon=False, names=False, embeddings=True),
    "lexicon+names": Cross(lexicon=True, names=True, embeddings=False),
    "none": Cross(False, False, False),
}


def load(lang: str) -> tuple[dict[str, str], list[tuple[str, str, str]]]:
    """Paragraph files (name -> text) and questions (id, text, paragraph file name)."""
    data = json.loads((CORPUS / f"{lang}.json").read_text(encoding="utf-8"))
    paragraphs, questions = {}, []
    for a, article in enumerate(data["data"]):
        for p, paragraph in enumerate(article["paragraphs"]):
            name = f"{a:02d}_{p:02d}.txt"
            paragraphs[name] = paragraph["context"].lstrip("\ufeff")
            questions.extend((qa["id"], qa["question"], name) for qa in paragraph["qas"])
    return paragraphs, questions


def evaluate(index: Index, questions: list[tuple[str, str, str]], lang: str, cross: Cross) -> dict:
    reciprocal, recalled, started = 0.0, 0, time.perf_counter()
    for _, text, relevant in questions:
        hits = index.search(text, limit=K, lang=lang, cross=cross).hits
        ranks = [hit.rank for hit in hits if Path(hit.doc).name == relevant]
        if ranks:
            reciprocal += 1.0 / ranks[0]
            recalled += 1
    n = len(questions)
    return {"mrr@10": reciprocal / n, "recall@10": recalled / n,
            "ms/query": 1000 * (time.perf_counter() - started) / n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample", type=int, default=0, help="use every Nth question only (0: all)")
    parser.add_argument("--workdir", type=Path, default=None, help="keep files and index here")
    parser.add_argument("--runs", default=",".join(RUNS), help="comma-separated subset of: " + ", ".join(RUNS))
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="xquad-"))
    data = {lang: load(lang) for lang in ("en", "ru")}
    for lang, (paragraphs, _) in data.items():
        (work / "docs" / lang).mkdir(parents=True, exist_ok=True)
        for name, text in paragraphs.items():
            (work / "docs" / lang / name).write_text(text, encoding="utf-8")
    index = Index(work / "index")
    started = time.perf_counter()
    report = index.update([str(work / "docs")], rebuild=True)
    print(f"indexed {report.indexed} files, {report.passages} passages in {time.perf_counter() - started:.1f} s")
    table = []
    for source in ("en", "ru"):
        questions = data[source][1][:: args.sample or 1]
        target = other(source)
        table.append((f"{source}->{source} BM25 (monolingual)", evaluate(index, questions, source, RUNS["none"])))
        table.append((f"{source}->{source} all (monolingual)", evaluate(index, questions, source, RUNS["all"])))
        for name in args.runs.split(","):
            table.append((f"{source}->{target} {name}", evaluate(index, questions, target, RUNS[name])))
    print(f"{'run':34} {'MRR@10':>7} {'R@10':>7} {'ms/q':>7}")
    for name, result in table:
        print(f"{name:34} {result['mrr@10']:7.3f} {result['recall@10']:7.3f} {result['ms/query']:7.1f}")


if __name__ == "__main__":
    main()
