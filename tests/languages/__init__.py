"""Tests of search.languages: characters, the lexicon, name keys."""
