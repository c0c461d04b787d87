"""Tests of search.storage: segments, the store, checksums."""
