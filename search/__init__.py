"""search: bilingual (English + Russian) passage search with cross-language lookup.

    from search import Index
    hits = Index.open("index").search("Rosoboronexport").hits

Data flows one way, and the sub-packages are its stages: ``ingest`` (files ->
documents -> passages) -> ``analysis`` -> ``storage`` (segments, commits) ->
``vectors``, run by ``indexer`` on ``workers``; ``query`` (repair -> parse ->
translate -> compile) -> ``ranking`` (candidates -> fused ranking), run by
``searcher`` over a ``snapshot`` of one commit -> ``output``. ``api`` and ``cli``
sit on top, and ``web`` (``search serve``) beside ``cli``.

The names below load on first use, so that ``search.launch`` can start loading
the sentence encoder before the rest of the package is imported.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .api import Index, Stats
    from .errors import ExitCode, SearchError
    from .indexer import Report
    from .searcher import Cross, Hit, Results

_HOMES = {"Index": "api", "Stats": "api", "ExitCode": "errors", "SearchError": "errors", "Report": "indexer",
          "Cross": "searcher", "Hit": "searcher", "Results": "searcher"}
__all__ = list(_HOMES)


def __getattr__(name: str) -> object:
    if name not in _HOMES:
        raise AttributeError(f"module 'search' has no attribute {name!r}")
    return getattr(import_module(f".{_HOMES[name]}", __name__), name)
