"""Tests of search.vectors: the encoder, passage vectors, the vocabulary."""
