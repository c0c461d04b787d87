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

Block-quality skipping (``optimize=True``) looped forever on an Or of
boosted terms. ``UnionMatcher`` and ``AndMaybeMatcher`` skip the side with the
lower block quality while ``aq + bq <= minquality``, and trust that the skip
moves it. A boosted term is a ``WrappingMatcher``: its block quality is its
child's times the boost, but it asks the child to skip to ``(minquality - bq) /
boost``. Rounding makes both tests true at once -- ``child * boost + bq <=
minquality`` and ``child > (minquality - bq) / boost`` -- so the child stays
put, its quality does not change, and the loop never ends (without boosts, ``a +
b <= c`` with ``a > c - b`` does the same, more rarely). The loops now stop
when a skip moved nothing: skipping is only a shortcut, and the collector
scores the document it stands on. A zero boost (the language filter) divided
by zero; such a term adds nothing, so it never skips on its own.

``WrappingMatcher.replace`` (every boosted term or group) passed the collector's
minimum score to its child unscaled. The collector replaces matchers every ten
hits with or without ``optimize``, and a child whose own best score is below the
minimum is dropped: with a boost above 1 (a name key's 1.5) whoosh dropped
passages that belonged in the top k. On the 1x WMT benchmark, for «More than 20
million people watched Brett Kavanaugh hearing» with --lang ru it left out the
24th best passage of the top 30.

``AndMaybeMatcher.skip_to(id)`` (what the collector's replacements make of an
Or whose one side cannot reach the minimum alone) moved its optional side to
``id`` rather than to where its required side landed, so the optional side lay
behind, and its share of the score was lost for the document the matcher stood
on (that same passage scored 7.95 instead of 9.93 and fell out of the top 30).

``scoring`` evaluates the same queries with numpy and the documented
semantics; tests/ranking/test_scoring.py checks that both agree.
"""

from __future__ import annotations

from whoosh import query as wq
from whoosh.matching import binary, mcore, wrappers

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


def _skip_both(a: mcore.Matcher, b: mcore.Matcher, minquality: float) -> int:
    """Skip the weaker side until both together may reach minquality; stop when a
    skip moves nothing (whoosh's loop, without its endless case)."""
    skipped = 0
    aq, bq = a.block_quality(), b.block_quality()
    while a.is_active() and b.is_active() and aq + bq <= minquality:
        side, need, before = (a, minquality - bq, aq) if aq < bq else (b, minquality - aq, bq)
        moved = side.skip_to_quality(need)
        skipped += moved
        after = side.block_quality() if side.is_active() else before
        if not moved and after == before:
            break
        aq, bq = a.block_quality() if a.is_active() else aq, b.block_quality() if b.is_active() else bq
    return skipped


def _union_skip_to_quality(self: binary.UnionMatcher, minquality: float) -> int:
    self._id = None
    a, b = self.a, self.b
    if not (a.is_active() or b.is_active()):
        raise mcore.ReadTooFar
    if not a.is_active():
        return b.skip_to_quality(minquality)
    if not b.is_active():
        return a.skip_to_quality(minquality)
    return _skip_both(a, b, minquality)


def _and_maybe_skip_to_quality(self: binary.AndMaybeMatcher, minquality: float) -> int:
    if not self.a.is_active():
        raise mcore.ReadTooFar
    if not self.b.is_active():
        return self.a.skip_to_quality(minquality)
    skipped = _skip_both(self.a, self.b, minquality)
    if self.a.is_active() and self.b.is_active() and self.b.id() < self.a.id():
        self.b.skip_to(self.a.id())  # the optional side must stand where the required one does
    return skipped


def _and_maybe_skip_to(self: binary.AndMaybeMatcher, id: int) -> bool:
    """whoosh's own, with the optional side moved to where the required side landed."""
    if not self.a.is_active():
        raise mcore.ReadTooFar
    moved = self.a.skip_to(id)
    if self.a.is_active() and self.b.is_active() and self.b.id() < self.a.id():
        moved = self.b.skip_to(self.a.id()) or moved
    return bool(moved)


def _for_child(self: wrappers.WrappingMatcher, minquality: float) -> float:
    """The quality the child must reach for this matcher to reach minquality (0: any)."""
    boost = getattr(self, "boost", 1.0)
    return minquality / boost if minquality and boost > 0 else 0


def _wrapping_skip_to_quality(self: wrappers.WrappingMatcher, minquality: float) -> int:
    return self.child.skip_to_quality(_for_child(self, minquality)) if getattr(self, "boost", 1.0) > 0 else 0


def _wrapping_replace(self: wrappers.WrappingMatcher, minquality: float = 0) -> mcore.Matcher:
    replaced = self.child.replace(_for_child(self, minquality))
    return self if replaced is self.child else self._replacement(replaced)


binary.UnionMatcher.skip_to_quality = _union_skip_to_quality  # type: ignore[method-assign]
binary.AndMaybeMatcher.skip_to_quality = _and_maybe_skip_to_quality  # type: ignore[method-assign]
binary.AndMaybeMatcher.skip_to = _and_maybe_skip_to  # type: ignore[method-assign]
wrappers.WrappingMatcher.skip_to_quality = _wrapping_skip_to_quality  # type: ignore[method-assign]
wrappers.WrappingMatcher.replace = _wrapping_replace  # type: ignore[method-assign]
