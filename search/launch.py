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
import types
from contextlib import contextmanager
from typing import Any, Iterator


def _load_encoder() -> None:
    from .vectors import deep

    deep.preload()  # first: e5's engine loads in C, beside the imports, and a query waits for its vector
    from .vectors import embeddings

    embeddings.preload(wait=True)


def _urlretrieve(*args: Any, **kwargs: Any) -> Any:
    """urllib's, imported when called."""
    return _urllib_request().urlretrieve(*args, **kwargs)


class _StandIn(types.ModuleType):
    """``urllib.request`` until it is used: then the real one is imported."""

    urlretrieve = staticmethod(_urlretrieve)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # what the import system asks of a module (__path__: a package?)
            raise AttributeError(name)
        return getattr(_urllib_request(), name)


def _put_aside() -> None:
    """The stand-in out of ``sys.modules`` and ``urllib``, if it is there."""
    import urllib

    if isinstance(sys.modules.get("urllib.request"), _StandIn):
        del sys.modules["urllib.request"]
    if isinstance(vars(urllib).get("request"), _StandIn):
        del urllib.request


def _urllib_request() -> types.ModuleType:
    """The real ``urllib.request``."""
    import importlib

    _put_aside()
    return importlib.import_module("urllib.request")


@contextmanager
def _without_urllib_request() -> Iterator[None]:
    """whoosh.compat imports ``urllib.request`` for ``urlretrieve``, which nothing here calls, and
    with it ``http.client`` and ``email``: 15-35 ms of a command's start (``python -X importtime``).
    While the command's modules are imported, a stand-in takes its place: its ``urlretrieve``
    imports the real module when called, as does asking it for any other name; afterwards the
    name is free again, for the real module to be imported if asked for."""
    if "urllib.request" in sys.modules:
        yield
        return
    sys.modules["urllib.request"] = _StandIn("urllib.request")
    try:
        yield
    finally:
        _put_aside()


def main() -> None:
    query = sys.argv[1:2] == ["query"]
    if query:
        threading.Thread(target=_load_encoder, name="load-encoder", daemon=True).start()
    with _without_urllib_request():
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
