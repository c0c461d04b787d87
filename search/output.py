"""Ranked passages -> what the user reads: a readable list, or JSON Lines."""

from __future__ import annotations

import json
import os
from typing import TextIO

from .highlight import Span
from .query.translate import Expanded
from .searcher import Hit

_MATCH = "\x1b[1;31m"
_META = "\x1b[35m"
_RESET = "\x1b[0m"


def use_colour(stream: TextIO) -> bool:
    """Colour only on a terminal, and never under NO_COLOR."""
    return "NO_COLOR" not in os.environ and stream.isatty()


def json_line(hit: Hit, qid: str | None = None) -> str:
    record = hit.to_json()
    if qid is not None:
        record = {"qid": qid, **record}
    return json.dumps(record, ensure_ascii=False)


def text_block(hit: Hit, colour: bool) -> str:
    """``rank. doc #passage [lang] score`` and the passage, its matched words marked."""
    head = f"{hit.rank}. {hit.doc} #{hit.passage} [{hit.lang}] score {hit.score:.3f}"
    if colour:
        head = f"{_META}{head}{_RESET}"
    body = _marked(hit.text, hit.highlights, colour)
    return head + "\n    " + " ".join(body.split()) + "\n"


def _marked(text: str, spans: tuple[Span, ...], colour: bool) -> str:
    if not colour:
        return text
    out, last = [], 0
    for start, end in spans:
        out += [text[last:start], _MATCH, text[start:end], _RESET]
        last = end
    out.append(text[last:])
    return "".join(out)


def explain(expanded: list[Expanded], dense: bool) -> list[str]:
    """How the query was expanded: each alternative and where it came from."""
    lines = [] if expanded else ["explain: no cross-language alternatives"]
    for item in expanded:
        alternatives = ", ".join(f"{alt.text} ({alt.origin}, {alt.weight:.2f})" for alt in item.alternatives)
        lines.append(f"explain: {item.source} -> {alternatives}")
    lines.append(f"explain: passage vectors and word alignment {'fused' if dense else 'not used'}")
    return lines
