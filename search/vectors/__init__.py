"""Passages -> vectors: the sentence encoder, the vector phase of indexing, and what it stores.

``tokenizer`` (for corpora), ``pieces`` (for queries), ``encoder`` and ``embeddings``
load and run the multilingual Universal Sentence Encoder; ``deep`` runs multilingual-e5-small;
``vectorize`` is the vector and deep phases (passages without vectors -> vectors, then the
vocabulary); ``stored`` keeps passage vectors beside each segment;
``vocabulary`` holds the vectors of the index's most frequent words; ``wordvectors``
caches word vectors per machine.

May import: search.storage, search.ingest, search.workers, search.languages, search.files.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from . import tokenizer

tokenizer.set_up_package()


@cache
def threadpools() -> Any:  # threadpoolctl.ThreadpoolController
    """threadpoolctl's controller of the libraries this process loaded (numpy's BLAS among them),
    made once: it scans every loaded library (3-4 ms of a first query, which made two)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()
