"""Ranked passages -> what the user reads: a readable list, or JSON Lines."""

from __future__ import annotations

import json
import os
from typing import TextIO

from .ranking.highlight import Span
from .searcher import Hit, Neighbour, Results, location

_MATCH = "\x1b[1;31m"
_META = "\x1b[35m"
_RESET = "\x1b[0m"


def use_colour(stream: TextIO) -> bool:
    """Colour only on a terminal, and never under NO_COLOR."""
    return "NO_COLOR" not in os.environ and stream.isatty()


def json_line(hit: Hit, qid: str | None = None, corrected: str | None = None) -> str:
    """One hit as a JSON object; ``corrected``: the query searched with, when a mistyped word of
    the typed one was repaired (else null); with its context, its "before" and "after" passages."""
    record = {**hit.to_json(), "corrected": corrected}
    if hit.context is not None:
        record["before"], record["after"] = ([n.to_json() for n in side] for side in hit.context)
    if qid is not None:
        record = {"qid": qid, **record}
    return json.dumps(record, ensure_ascii=False)


def correction(results: Results) -> str | None:
    """The stderr line saying which query was searched instead of the typed one, if any."""
    if results.corrected is None:
        return None
    return f'showing results for "{results.corrected}" (typed "{results.query}")'


def text_block(hit: Hit, colour: bool) -> str:
    """``rank. path:line #passage [lang] score`` and the passage, its matched words marked; with its
    context, the passages before and after it, each as ``- path:line #passage`` and its text."""
    head = f"{hit.rank}. {hit.location} #{hit.passage} [{hit.lang}] score {hit.score:.3f}"
    if hit.index:
        head += f" in {hit.index}"
    if colour:
        head = f"{_META}{head}{_RESET}"
    before, after = hit.context or ((), ())
    body = "    " + " ".join(_marked(hit.text, hit.highlights, colour).split())
    lines = [head, *(_neighbour(hit, n, colour) for n in before), body, *(_neighbour(hit, n, colour) for n in after)]
    return "\n".join(lines) + "\n"


def _neighbour(hit: Hit, neighbour: Neighbour, colour: bool) -> str:
    where = f"  - {location(hit.doc, neighbour.line, neighbour.page, neighbour.member)} #{neighbour.passage}"
    if colour:
        where = f"{_META}{where}{_RESET}"
    return where + "\n    " + " ".join(neighbour.text.split())


def _marked(text: str, spans: tuple[Span, ...], colour: bool) -> str:
    if not colour:
        return text
    out, last = [], 0
    for start, end in spans:
        out += [text[last:start], _MATCH, text[start:end], _RESET]
        last = end
    out.append(text[last:])
    return "".join(out)


def score_parts(hit: Hit) -> str:
    """What a hit's score is made of (``--explain``, and the web page's score of a hit)."""
    parts = hit.parts
    line = f"{hit.score:.3f} = lexical {parts.lexical:.3f}"
    for name, value, weight in (("similarity", parts.similarity, parts.weights[0]),
                                ("alignment", parts.alignment, parts.weights[1])):
        if value is not None:
            line += f" + {weight:.2f} x {name} {value:.3f}"
    if parts.deep is not None:
        line += f" {'+' if parts.deep_part >= 0 else '-'} e5 {abs(parts.deep_part):.3f} (similarity {parts.deep.similarity:.3f})"
    return line


def explain(results: Results) -> list[str]:
    """How the query was expanded (each alternative and where it came from), whether vectors
    were fused and for how many passages, and what each hit's score is made of."""
    lines = [f"explain: typed {c.typed} -> {c.used} ({c.kind})" for c in results.corrections]
    if not results.expanded:
        lines.append("explain: no cross-language alternatives")
    for item in results.expanded:
        alternatives = ", ".join(f"{alt.text} ({alt.origin}, {alt.weight:.2f})" for alt in item.alternatives)
        lines.append(f"explain: {item.source} -> {alternatives}")
    if not results.dense:
        lines.append("explain: passage vectors and word alignment not used")
    else:
        fused = "explain: passage vectors and word alignment fused"
        coverage, deep = results.coverage, results.deep_coverage
        if coverage is not None and coverage.partial:
            fused += (f" (vectors for {coverage.covered} of {coverage.passages} passages so far: "
                      f"run search index again to compute the rest)")
        lines.append(fused)
        if deep is not None:
            lines.append(f"explain: deep vectors (e5) for {deep.covered} of {deep.passages} passages"
                         + (": run search index again to compute the rest" if deep.partial else ""))
    lines += [f"explain: #{hit.rank} {score_parts(hit)}" for hit in results.hits if hit.parts is not None]
    return lines
