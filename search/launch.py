"""The ``search`` command's entry point.

A cross-language query needs the sentence encoder (its arrays memory-mapped and its
query tokenizer, ``vectors.pieces``: 10 ms) and e5 (``vectors.deep``, 10 ms, in C).
Started here, on a thread, while the rest of the package and its libraries are
imported (0.25 s), they are ready by the time the query is translated and scored.
And a query's process ends as soon as its output is written: tearing down the
interpreter's few hundred MB of arrays and caches took another 0.15 s.
"""

from __future__ import annotations

import os
import sys
import threading


def _load_encoder() -> None:
    from .vectors import deep

    deep.preload()  # first: e5's engine loads in C, beside the imports, and a query waits for its vector
    from .vectors import embeddings

    embeddings.preload(wait=True)


def main() -> None:
    query = sys.argv[1:2] == ["query"]
    if query:
        threading.Thread(target=_load_encoder, name="load-encoder", daemon=True).start()
    from .cli import main as run

    try:
        run()
    except SystemExit as done:
        if not query:
            raise
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        if done.code is not None and not isinstance(done.code, int):
            print(done.code, file=sys.stderr)
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except OSError:  # a reader that went away (search query ... | head)
                pass
        os._exit(code)  # a query holds no lock and writes nothing: nothing is left to clean up
