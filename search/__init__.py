"""search: bilingual (English + Russian) passage search with cross-language lookup.

    from search import Index
    hits = Index.open("index").search("Rosoboronexport").hits

Data flows one way: sources (files -> documents) -> passages -> analysis ->
indexer/store; query (parser -> translate -> compile) -> searcher -> output.
"""

from .api import Index, Stats
from .errors import ExitCode, SearchError
from .indexer import Report
from .searcher import Cross, Hit, Results

__all__ = ["Index", "Stats", "Report", "Cross", "Hit", "Results", "ExitCode", "SearchError"]
