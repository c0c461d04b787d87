"""Candidates -> fused ranking: how passages are scored, and how the evidence is combined.

``scoring`` evaluates BM25F over the codec's arrays (whoosh's scores, without its
matchers), ``matchers`` corrects whoosh's own matchers where a query needs them,
``alignment`` pairs each query word with its closest word in a passage, ``fusion``
holds every ranking constant (``Ranking``) and combines lexical, vector and alignment
scores (``fuse``), and ``highlight`` finds the matched words in a hit.

May import: search.storage, search.vectors, search.analysis, search.languages.
"""
