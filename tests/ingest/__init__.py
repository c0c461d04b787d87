"""Tests of search.ingest: files -> documents -> passages."""
