"""Cross-language retrieval on held-out data: FLORES-200 devtest (English + Russian).

XQuAD-R tuned the ranking's weights; this checks them on text they never saw.
Indexes the 1,012 English and 1,012 Russian sentences of
../shared/corpora/flores200-devtest-en-ru as files (one per sentence), then
queries with every Nth sentence of one language -- its first few words, as a
person would type, and whole -- against the other language's sentences, and
reports MRR@10 of its translation, with word alignment on and off.

    python bench/flores.py [--sample N] [--words N] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from search import Index
from search.languages import other
from search.ranking import alignment

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "flores200-devtest-en-ru"
FILES = {"en": "eng_Latn.devtest", "ru": "rus_Cyrl.devtest"}
K = 10


def mrr(index: Index, sentences: dict[str, list[str]], source: str, words: int, sample: int) -> float:
    reciprocal, picked = 0.0, range(0, len(sentences[source]), sample)
    for i in picked:
        query = " ".join(sentences[source][i].split()[:words]) if words else sentences[source][i]
        for hit in index.search(query, limit=K, lang=other(source)).hits:
            if Path(hit.doc).name == f"{i:04d}.txt":
                reciprocal += 1.0 / hit.rank
                break
    return reciprocal / len(picked)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample", type=int, default=4, help="query with every Nth sentence (default 4)")
    parser.add_argument("--words", type=int, default=6, help="words of a sentence in a short query (default 6)")
    parser.add_argument("--workdir", type=Path, default=None, help="keep files and index here")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="flores-"))
    sentences = {lang: (CORPUS / name).read_text(encoding="utf-8").splitlines() for lang, name in FILES.items()}
    for lang, lines in sentences.items():
        (work / "docs" / lang).mkdir(parents=True, exist_ok=True)
        for i, line in enumerate(lines):
            (work / "docs" / lang / f"{i:04d}.txt").write_text(line, encoding="utf-8")
    index = Index(work / "index")
    index.update([str(work / "docs")])
    aligned = alignment.scores
    print(f"{'run':34} {'aligned':>8} {'not':>8}")
    for words, label in ((args.words, f"first {args.words} words"), (0, "whole sentence")):
        for source in ("en", "ru"):
            row = []
            for scores in (aligned, lambda *_: {}):  # the ablation: alignment off
                alignment.scores = scores
                row.append(mrr(index, sentences, source, words, args.sample))
            alignment.scores = aligned
            name = f"{source}->{other(source)} {label}"
            print(f"{name:34} {row[0]:8.3f} {row[1]:8.3f}")


if __name__ == "__main__":
    main()
