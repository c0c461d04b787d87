"""Passages -> vectors: the sentence encoder, the vector phase of indexing, and what it stores.

``tokenizer``, ``encoder`` and ``embeddings`` load and run the multilingual Universal
Sentence Encoder; ``vectorize`` is the vector phase (passages without vectors ->
vectors, then the vocabulary); ``stored`` keeps passage vectors beside each segment;
``vocabulary`` holds the vectors of the index's most frequent words; ``wordvectors``
caches word vectors per machine.

May import: search.storage, search.ingest, search.workers, search.languages, search.files.
"""
