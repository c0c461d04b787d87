"""A query's tokens for the sentence encoder: the lattice searched by search/vectors/lattice.c
against the same search in Python and against the sentencepiece library, in turns in the same
process (so another load on the machine slows all alike), on the NTREX-128 headlines
(bench/performance.py's: English and Russian, 8-15 words).

Prints ms per headline for each (the median over rounds of each round's mean, normalisation
included), the ratios, and whether all three gave the same ids for every headline.

    python bench/pieces.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
from performance import headlines  # noqa: E402

from search.vectors import pieces, tokenizer  # noqa: E402


def per_text_ms(encode: Callable[[str], list[int]], texts: list[str]) -> float:
    started = time.perf_counter()
    for text in texts:
        encode(text)
    return (time.perf_counter() - started) / len(texts) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    found = headlines()
    texts = found["en"] + found["ru"]
    if pieces._library() is None:
        raise SystemExit("lattice.c is not built here (pip install -e . with a C compiler)")
    arrays = pieces._arrays()
    library = tokenizer.tokenizer()
    ways: dict[str, Callable[[str], list[int]]] = {
        "lattice.c": pieces.Pieces(arrays).encode,
        "Python": pieces.Pieces(arrays, compiled=False).encode,
        "library": lambda text: library.encode(text, out_type=int, add_bos=True, add_eos=True),
    }
    same = all(len({tuple(encode(text)) for encode in ways.values()}) == 1 for text in texts)
    rounds: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(args.rounds):
        for name, encode in ways.items():
            rounds[name].append(per_text_ms(encode, texts))
    ms = {name: statistics.median(values) for name, values in rounds.items()}
    print(f"{len(texts)} headlines, {args.rounds} rounds in turns; ms per headline (median of the rounds' means):")
    for name, value in ms.items():
        print(f"  {name:10} {value:7.3f} ms")
    print(f"Python / lattice.c: {ms['Python'] / ms['lattice.c']:.1f}x; "
          f"library / lattice.c: {ms['library'] / ms['lattice.c']:.2f}x; "
          f"the same ids from all three for every headline: {same}")


if __name__ == "__main__":
    main()
