"""Corrections to whoosh 2.7.4's matchers, for the queries whoosh itself still runs.

``DisjunctionMaxMatcher`` (a word and its translations: the best match counts)
had two faults:

- ``score`` returned the larger of both sub-matchers' scores whenever both were
  active, even when one of them was positioned on a *later* document: a passage
  found only through a name key took the score of whatever passage the literal
  word's matcher stood on next (on the seeds, «Рособоронэкспорта» scored 3.79
  for a name-key match worth 2.29).
- ``replace`` returned an empty matcher when one sub-matcher ran out after
  replacing, dropping the other's remaining matches.

``AndNotMatcher.skip_to`` (a NOT under an And, as with --lang) asked its
positive side for its document after skipping it past the end: IndexError.

And ``Or`` picked, for indexes of 5,000 records or fewer, matchers that
preload scores (``PreloadedOr``, ``ArrayUnionMatcher``); under an And (a
language filter) whoosh's search then lost documents: on XQuAD-R, for «В каком
году Джеймс Хаттон опубликовал...» with --lang ru it never returned the passage
naming Hutton (BM25F 46.7) and ranked others at 7.2. ``Or`` now always builds
the binary tree of union matchers it uses for larger indexes.

``scoring`` evaluates the same queries with numpy and the documented
semantics; tests/test_scoring.py checks that both agree.
"""

from __future__ import annotations

from whoosh import query as wq
from whoosh.matching import binary, mcore

wq.Or.matcher_type = wq.Or.DEFAULT_MATCHER


def _score(self: binary.DisjunctionMaxMatcher) -> float:
    a, b = self.a, self.b
    if not a.is_active():
        return b.score()
    if not b.is_active():
        return a.score()
    a_id, b_id = a.id(), b.id()
    if a_id != b_id:  # only the one on the current (lower) document matches it
        return a.score() if a_id < b_id else b.score()
    return max(a.score(), b.score())


def _replace(self: binary.DisjunctionMaxMatcher, minquality: float = 0) -> mcore.Matcher:
    """whoosh's own, but for the line marked: a side that runs out leaves the other."""
    a, b = self.a, self.b
    a_active, b_active = a.is_active(), b.is_active()
    if minquality and a_active and b_active:
        a_max, b_max = a.max_quality(), b.max_quality()
        if a_max < minquality and b_max < minquality:
            return mcore.NullMatcher()
        if b_max < minquality:
            return a.replace(minquality)
        if a_max < minquality:
            return b.replace(minquality)
    if not (a_active or b_active):
        return mcore.NullMatcher()
    if not a_active:
        return b.replace(minquality)
    if not b_active:
        return a.replace(minquality)
    a, b = a.replace(minquality), b.replace(minquality)
    a_active, b_active = a.is_active(), b.is_active()
    if not (a_active or b_active):  # whoosh: "not (a_active and b_active)"
        return mcore.NullMatcher()
    if not a_active:
        return b
    if not b_active:
        return a
    if a is not self.a or b is not self.b:
        return binary.DisjunctionMaxMatcher(a, b, tiebreak=self.tiebreak)
    return self


_and_not_find_next = binary.AndNotMatcher._find_next


def _find_next(self: binary.AndNotMatcher) -> object:
    """whoosh's own, once the positive side is known to have a document left."""
    return _and_not_find_next(self) if self.a.is_active() else False


binary.AndNotMatcher._find_next = _find_next  # type: ignore[method-assign]
binary.DisjunctionMaxMatcher.score = _score  # type: ignore[method-assign]
binary.DisjunctionMaxMatcher.replace = _replace  # type: ignore[method-assign]
