"""Tests of search.ranking: BM25F scoring, whoosh's matchers, fusion, alignment."""
