"""Tests of search.query: parsing, repair, translation, compilation."""
