"""Passages -> vectors: the sentence encoder, the vector phase of indexing, and what it stores.

``tokenizer`` (for corpora), ``pieces`` (for queries), ``encoder`` and ``embeddings``
load and run the multilingual Universal Sentence Encoder; ``deep`` runs multilingual-e5-small;
``vectorize`` is the vector and deep phases (passages without vectors -> vectors, then the
vocabulary); ``stored`` keeps passage vectors beside each segment;
``vocabulary`` holds the vectors of the index's most frequent words; ``wordvectors``
caches word vectors per machine.

May import: search.storage, search.ingest, search.workers, search.languages, search.files.
"""
