"""Mistyped queries: wrong keyboard layout, Russian in Latin letters, typos (the repair issue).

XQuAD-R (../shared/corpora/xquad-r-en-ru): the 240 English and 240 Russian paragraphs as files;
each question is searched as typed cleanly and as each kind of slip, against the paragraphs of
its own language and of the other one (--lang), and MRR@10 of its paragraph is reported, with
each kind's MRR as a share of the clean one (the issue asks for 0.90 or more), and below it the
MRR of the same slips with the repair step turned off:

- layout: the whole question typed with the other layout active (English on ЙЦУКЕН, Russian
  on QWERTY);
- transliteration: Russian questions in Latin letters, by three systems in turn (informal,
  BGN/PCGN, GOST 7.79-B), written here independently of the engine's reader;
- typos: one slip in the question's longest word (a swap of neighbours, a letter dropped,
  doubled or replaced by its keyboard neighbour), chosen by a fixed seed.

For each language, the clean questions the repair step changes, and those it damages (their
paragraph ranks lower, in either language, than the question as typed would rank it), each named.

Then the seeds: hand-typed slips of queries that work, and whether each finds the clean query's
best passage (MRR@10 of it). And the cost: milliseconds the repair step takes per query, on
the index given with --cost-index (bench/performance.py's 63k-passage WMT index) or else on
the XQuAD-R one.

    python bench/typos.py [--sample N] [--cost-index DIR]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import xquad  # noqa: E402

from search import Cross, Index, searcher  # noqa: E402
from search.languages.keyboard import other_layout  # noqa: E402
from search.query.repair import Repaired, repair  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SYSTEMS = {
    "informal": {"ж": "zh", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "sch", "ы": "y", "й": "i",
                 "ю": "yu", "я": "ya", "ь": "", "ъ": "", "э": "e", "ё": "e", "е": "e"},
    "BGN/PCGN": {"ж": "zh", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ы": "y", "й": "y",
                 "ю": "yu", "я": "ya", "ь": "'", "ъ": "", "э": "e", "ё": "yo", "е": "e"},
    "GOST 7.79-B": {"ж": "zh", "х": "x", "ц": "cz", "ч": "ch", "ш": "sh", "щ": "shh", "ы": "y'", "й": "j",
                    "ю": "yu", "я": "ya", "ь": "`", "ъ": "``", "э": "e'", "ё": "yo", "е": "e"},
}
_PLAIN = dict(zip("абвгдзиклмнопрстуф", "abvgdziklmnoprstuf"))
NEIGHBOURS = {row[i]: row[i - 1] + row[i + 1: i + 2] for row in
              ("qwertyuiop", "asdfghjkl", "zxcvbnm", "йцукенгшщзхъ", "фывапролджэ", "ячсмитьбю")
              for i in range(len(row))}
SEEDS = [  # typed, kind, the query it stands for
    ("кщыщищкщтучзщке", "layout", "rosoboronexport"),
    ("Hjcj,jhjy'rcgjhn", "layout", "Рособоронэкспорт"),
    ("gjldjlyst kjlrb", "layout", "подводные лодки"),
    ("djtyyjt cjnhelybxtcndj", "layout", "военное сотрудничество"),
    ("ьшдшефкн сщщзукфешщт", "layout", "military cooperation"),
    ("podvodnye lodki", "transliteration", "подводные лодки"),
    ("sovmestnye voennye ucheniya", "transliteration", "совместные военные учения"),
    ("Shankhaiskaya organizatsiya sotrudnichestva", "transliteration", "Шанхайская организация сотрудничества"),
    ("voenno-tekhnicheskoe sotrudnichestvo", "transliteration", "военно-техническое сотрудничество"),
    ("Rosoboronexprot", "typo", "Rosoboronexport"),
    ("Рособоронэкпорт", "typo", "Рособоронэкспорт"),
    ("radar equipmnet", "typo", "radar equipment"),
    ("militray cooperation", "typo", "military cooperation"),
    ("сотрудничесвто с Китаем", "typo", "сотрудничество с Китаем"),
]


def transliterated(text: str, system: str) -> str:
    table = SYSTEMS[system]
    out = []
    for char in text:
        lower = char.lower()
        latin = table.get(lower, _PLAIN.get(lower, char))
        out.append(latin.capitalize() if char != lower else latin)
    return "".join(out)


def with_typo(text: str, rng: random.Random) -> str:
    words = text.split()
    longest = max(range(len(words)), key=lambda i: sum(c.isalpha() for c in words[i]))
    word = words[longest]
    letters = [i for i, c in enumerate(word) if c.isalpha()]
    if len(letters) < 5:
        return text
    i = rng.choice(letters[1:-1])
    kind = rng.choice(("swap", "drop", "double", "neighbour"))
    if kind == "swap" and word[i + 1].isalpha():
        word = word[:i] + word[i + 1] + word[i] + word[i + 2:]
    elif kind == "drop":
        word = word[:i] + word[i + 1:]
    elif kind == "double":
        word = word[:i] + word[i] + word[i:]
    else:
        near = NEIGHBOURS.get(word[i].lower(), word[i])
        word = word[:i] + rng.choice(near) + word[i + 1:]
    words[longest] = word
    return " ".join(words)


def variants(lang: str, questions: list[tuple[str, str, str]]) -> dict[str, list[tuple[str, str, str]]]:
    rng = random.Random(17)
    systems = list(SYSTEMS)
    found = {"clean": questions,
             "layout": [(q, other_layout(text), rel) for q, text, rel in questions],
             "typos": [(q, with_typo(text, rng), rel) for q, text, rel in questions]}
    if lang == "ru":
        found["transliteration"] = [(q, transliterated(text, systems[i % 3]), rel)
                                    for i, (q, text, rel) in enumerate(questions)]
    return found


@contextmanager
def unrepaired() -> Iterator[None]:
    """The engine without its repair step, for comparison."""
    original = searcher.repair
    searcher.repair = lambda text, words: Repaired(text)  # type: ignore[assignment]
    try:
        yield
    finally:
        searcher.repair = original


def rank(index: Index, text: str, relevant: str, lang: str) -> float:
    """The rank of a question's paragraph among the top K in a language (infinity if not there)."""
    hits = index.search(text, limit=xquad.K, lang=lang).hits
    return next((hit.rank for hit in hits if Path(hit.doc).name == relevant), float("inf"))


def repair_damage(index: Index, questions: list[tuple[str, str, str]]) -> tuple[list[str], list[tuple[str, str]]]:
    """The clean questions the repair step changes, and those it damages: whose paragraph then ranks
    lower, in its own language or the other, than the question as typed would rank it."""
    changed = [(text, relevant) for _, text, relevant in questions if index.search(text).corrected is not None]
    damaged = []
    for text, relevant in changed:
        repaired = [rank(index, text, relevant, lang) for lang in ("en", "ru")]
        with unrepaired():
            typed = [rank(index, text, relevant, lang) for lang in ("en", "ru")]
        if any(r > t for r, t in zip(repaired, typed)):
            damaged.append((text, index.search(text).corrected or ""))
    return [text for text, _ in changed], damaged


def repair_ms(index: Index, queries: list[str]) -> tuple[float, float]:
    """Mean and p95 milliseconds of the repair step alone (its lazy loads done first)."""
    with index._snapshots.acquire() as snapshot:
        words = snapshot.words
        for text in queries[:5]:
            repair(text, words)
        times = []
        for text in queries:
            started = time.perf_counter()
            repair(text, words)
            times.append(1000 * (time.perf_counter() - started))
    times.sort()
    return statistics.mean(times), times[int(0.95 * (len(times) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample", type=int, default=1, help="every Nth question (default: all)")
    parser.add_argument("--cost-index", type=Path, help="the index to time the repair step on")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="search-typos-"))
    data = {lang: xquad.load(lang) for lang in ("en", "ru")}
    for lang, (paragraphs, _) in data.items():
        (work / "docs" / lang).mkdir(parents=True)
        for name, text in paragraphs.items():
            (work / "docs" / lang / name).write_text(text, encoding="utf-8")
    mistyped: list[str] = []
    with Index(work / "index") as index:
        index.update([str(work / "docs")])
        print(f"XQuAD-R, MRR@10 (share of clean), every {args.sample}th question")
        print(f"{'questions':10} {'passages':9} {'clean':>6} {'layout':>14} {'transliteration':>16} {'typos':>14}")
        for source in ("en", "ru"):
            questions = data[source][1][::args.sample]
            kinds = variants(source, questions)
            mistyped += [text for kind, items in kinds.items() if kind != "clean" for _, text, _ in items]
            for target in (source, "ru" if source == "en" else "en"):
                mrr = {kind: xquad.evaluate(index, items, target, Cross())["mrr@10"] for kind, items in kinds.items()}
                with unrepaired():
                    bare = {kind: xquad.evaluate(index, items, target, Cross())["mrr@10"]
                            for kind, items in kinds.items() if kind != "clean"}
                cells = [f"{mrr[k]:.3f} ({mrr[k] / mrr['clean']:.2f})" if k in mrr else "-"
                         for k in ("layout", "transliteration", "typos")]
                print(f"{source:10} {target:9} {mrr['clean']:6.3f} {cells[0]:>14} {cells[1]:>16} {cells[2]:>14}")
                print(f"{'':10} {'unrepaired':9} {'':6} " + " ".join(
                    f"{bare[k]:>{w}.3f}" if k in bare else f"{'-':>{w}}"
                    for k, w in (("layout", 14), ("transliteration", 16), ("typos", 14))))
            changed, damaged = repair_damage(index, questions)
            print(f"{'':10} clean {source} questions changed by the repair step: {len(changed)} of {len(questions)}, "
                  f"damaged (their paragraph ranked lower than as typed, in either language): {len(damaged)}")
            for typed, corrected in damaged:
                print(f"{'':12} {typed!r} -> {corrected!r}")
        seeds_mrr(work)
        cost = Index.open(args.cost_index) if args.cost_index else index
        clean = [text for lang in ("en", "ru") for _, text, _ in data[lang][1][::args.sample]]
        for label, queries in (("mistyped", mistyped), ("clean", clean)):
            mean, p95 = repair_ms(cost, queries)
            print(f"repair step on {cost.store.path.name}: {label} queries {mean:.2f} ms mean, {p95:.2f} ms p95 "
                  f"({len(queries)} queries)")
    shutil.rmtree(work, ignore_errors=True)


def seeds_mrr(work: Path) -> None:
    """Hand-typed slips on the seeds: MRR@10 of the clean query's best passage, per kind."""
    shutil.copytree(ROOT / "seeds", work / "seeds")
    with Index(work / "seeds-index") as index:
        index.update([str(work / "seeds")])
        reciprocal: dict[str, list[float]] = {}
        for typed, kind, meant in SEEDS:
            clean = index.search(meant).hits
            best = (clean[0].doc, clean[0].passage) if clean else None
            ranks = [h.rank for h in index.search(typed).hits if (h.doc, h.passage) == best]
            reciprocal.setdefault(kind, []).append(1 / ranks[0] if ranks else 0.0)
        print("seeds, MRR@10 of the clean query's best passage: " +
              ", ".join(f"{kind} {statistics.mean(v):.3f} ({len(v)} queries)" for kind, v in reciprocal.items()))


if __name__ == "__main__":
    main()
