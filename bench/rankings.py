"""What the benchmark's headlines give, to tell whether a change moved any ranking.

Runs the 246 NTREX headlines of bench/performance.py across languages on an index and writes,
for each, its expansions (each word's alternatives, their origins and weights), its hits (key,
passage, score to 5 decimals) and their highlighted spans, as JSON. Two such files, from two
commits on the same index, are then compared:

    python bench/rankings.py --index /work/bench-perf/index-1x --out before.json   # on one commit
    python bench/rankings.py --index /work/bench-perf/index-1x --out after.json    # on the other
    python bench/rankings.py --compare before.json after.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from performance import headlines

from search import Index


def rankings(index: Path) -> list[dict]:
    runs = [(query, "ru") for query in headlines()["en"]] + [(query, "en") for query in headlines()["ru"]]
    found = []
    with Index.open(index) as opened:
        for query, lang in runs:
            results = opened.search(query, lang=lang)
            found.append({"query": query,
                          "expanded": [[e.source, [[a.text, a.origin, a.weight] for a in e.alternatives]]
                                       for e in results.expanded],
                          "hits": [[hit.key, hit.passage, round(hit.score, 5), [list(span) for span in hit.highlights]]
                                   for hit in results.hits]})
    return found


def compare(before: list[dict], after: list[dict]) -> str:
    """How many headlines changed their hits, their alternatives, and by how much a weight moved."""
    if [b["query"] for b in before] != [a["query"] for a in after]:
        return "not the same headlines"
    hits = sum(b["hits"] != a["hits"] for b, a in zip(before, after))
    alternatives = moved = 0
    for b, a in zip(before, after):
        shape_b = [[source, [alt[:2] for alt in alts]] for source, alts in b["expanded"]]
        shape_a = [[source, [alt[:2] for alt in alts]] for source, alts in a["expanded"]]
        if shape_b != shape_a:
            alternatives += 1
            continue
        for (_, alts_b), (_, alts_a) in zip(b["expanded"], a["expanded"]):
            for alt_b, alt_a in zip(alts_b, alts_a):
                moved = max(moved, abs(alt_b[2] - alt_a[2]) / max(abs(alt_b[2]), 1e-12))
    spans = sum(len(hit[3]) for entry in after for hit in entry["hits"])
    return (f"{len(after)} headlines: {hits} with other hits, scores or highlights ({spans} spans), "
            f"{alternatives} with other alternatives; weights moved by {moved:.1e} at most (relative)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, help="the index to query (bench/performance.py's index-1x)")
    parser.add_argument("--out", type=Path, help="where to write the headlines' rankings")
    parser.add_argument("--compare", type=Path, nargs=2, metavar=("BEFORE", "AFTER"), help="two files --out wrote")
    args = parser.parse_args()
    if args.compare:
        before, after = (json.loads(path.read_text(encoding="utf-8")) for path in args.compare)
        print(compare(before, after))
    elif args.index and args.out:
        args.out.write_text(json.dumps(rankings(args.index), ensure_ascii=False), encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        parser.error("give --index and --out, or --compare")


if __name__ == "__main__":
    main()
