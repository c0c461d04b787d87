"""English morphology: Snowball stems (PyStemmer's C implementation when installed),
the spelling variants a British dictionary needs (defense -> defence), and which words
are English words at all (Debian's word lists).
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
import snowballstemmer

from ..files import cache_folder, digest64, mapped, replace_path
from .characters import fold_marks

STOPWORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for
    from further had has have having he her here hers herself him himself his how i if in
    into is it its itself just me more most my myself no nor not now of off on once only
    or other our ours ourselves out over own same she should so some such than that the
    their theirs them themselves then there these they this those through to too under
    until up very was we were what when where which while who whom why will with would
    you your yours yourself yourselves many much also may might must shall s t
    it's that's what's there's here's who's he's she's let's i'm you're we're they're
    i've you've we've they've i'd you'd he'd she'd we'd they'd i'll you'll he'll she'll
    we'll they'll isn't aren't wasn't weren't don't doesn't didn't hasn't haven't hadn't
    won't wouldn't can't couldn't shouldn't
    """.split()
)

_STEMMER = snowballstemmer.stemmer("english")


def stemmer_stamp() -> str:
    """The stemmer's code as installed (PyStemmer's library or snowballstemmer's module): what the
    stems depend on."""
    name = type(_STEMMER).__module__
    path = getattr(sys.modules.get(name), "__file__", None)
    found = os.stat(path) if path else None
    return f"{name}:{found.st_size}:{found.st_mtime_ns}" if found else name


def fold(word: str) -> str:
    """Case-fold, with every apostrophe and dash in its ASCII form."""
    return fold_marks(word.lower())


def without_possessive(word: str) -> str:
    """The word without a possessive 's (Putin's -> Putin), whatever its apostrophe."""
    folded = fold_marks(word)
    return word[:-2] if folded.endswith(("'s", "'S")) else word


@lru_cache(maxsize=500_000)
def stem(word: str) -> str:
    """The Snowball stem of a word (licensing, licenses -> licens)."""
    return _STEMMER.stemWord(fold(word))


def is_stopword(word: str) -> bool:
    """Function words that carry no topic: not translated, not searched in long queries."""
    return fold(word) in STOPWORDS


_SPELLINGS = tuple((re.compile(pattern), replacement) for pattern, replacement in (
    (r"(?<=...)iz(e|es|ed|ing|er|ers|ation|ations)$", r"is\1"),  # organization <-> organisation
    (r"(?<=...)is(e|es|ed|ing|er|ers|ation|ations)$", r"iz\1"),
    (r"(?<=..)yz(e|es|ed|ing)$", r"ys\1"),  # analyze <-> analyse
    (r"(?<=..)ys(e|es|ed|ing)$", r"yz\1"),
    (r"(?<=...)or(s|ed|ing|ful|ite|ites)?$", r"our\1"),  # color <-> colour (not four -> for)
    (r"(?<=...)our(s|ed|ing|ful|ite|ites)?$", r"or\1"),
    (r"(?<=...)er(s)?$", r"re\1"),  # center <-> centre
    (r"(?<=...)re(s)?$", r"er\1"),
    (r"(?<=..)ense(s)?$", r"ence\1"),  # defense <-> defence
    (r"(?<=..)ence(s)?$", r"ense\1"),
    (r"(?<=...)og(s)?$", r"ogue\1"),  # catalog <-> catalogue
    (r"(?<=...)ogue(s)?$", r"og\1"),
))
"""American and British spellings of an ending, each way (with the inflections that follow it)."""

_PREFIXES_WITH_HYPHEN = ("co", "re", "pre", "non", "anti")


def other_spellings(word: str) -> list[str]:
    """The word as the other side of the Atlantic spells it (organisation -> organization,
    defense -> defence); none for most words. Spellings that are no word at all (watre) cost a
    look-up that finds nothing."""
    word = fold(word)
    return list(dict.fromkeys(pattern.sub(replacement, word) for pattern, replacement in _SPELLINGS
                              if pattern.search(word)))


def spelling_variants(word: str) -> list[str]:
    """Other spellings under which a dictionary may list a word, most likely first.

    American <-> British endings, a hyphen after common prefixes
    (cooperation -> co-operation), and plural or inflected -> base form.
    """
    word = fold(word)
    variants = other_spellings(word)
    for prefix in _PREFIXES_WITH_HYPHEN:
        if word.startswith(prefix) and len(word) > len(prefix) + 3 and "-" not in word:
            variants.append(f"{prefix}-{word[len(prefix):]}")
    variants.extend(_base_forms(word))
    return [v for v in dict.fromkeys(variants) if v != word]


def _base_forms(word: str) -> list[str]:
    """Candidate base forms of an inflected word (cities -> city, licenses -> license)."""
    forms: list[str] = []
    if word.endswith("ies") and len(word) > 4:
        forms.append(word[:-3] + "y")
    if word.endswith("es") and len(word) > 3:
        forms.append(word[:-2])
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        forms.append(word[:-1])
    if word.endswith("'s"):
        forms.append(word[:-2])
    for ending in ("ing", "ed"):
        if word.endswith(ending) and len(word) > len(ending) + 2:
            root = word[: -len(ending)]
            forms.extend([root, root + "e"])
            if len(root) > 2 and root[-1] == root[-2]:
                forms.append(root[:-1])
    return forms


WORD_LISTS = tuple(Path(os.environ.get("SEARCH_WORD_LISTS_DIR", "/usr/share/dict")) / name
                   for name in ("american-english-huge", "american-english", "british-english"))
"""Debian's English word lists (wamerican-huge, wamerican, wbritish: 350,000 words, names and
acronyms among them), read where installed."""
_WORD_PREFIXES = ("re", "un", "non", "pre", "over", "under", "mis", "co", "anti", "counter", "sub", "super",
                  "inter", "multi", "post", "semi", "de", "dis")
"""Prefixes that make words of words (rebranded, unfunded): such a word is a word if the rest is one."""


def is_word(word: str) -> bool:
    """Whether an English word list has this word, in any case, or the word is a prefix and a
    listed word of four letters or more (rebranded: re + branded)."""
    folded = fold(word)
    if _listed(folded):
        return True
    return any(folded.startswith(prefix) and len(folded) - len(prefix) >= 4 and _listed(folded[len(prefix):])
               for prefix in _WORD_PREFIXES)


def _listed(folded: str) -> bool:
    words = _word_hashes()
    if not len(words):
        return False
    wanted = digest64(folded)
    at = int(np.searchsorted(words, wanted))
    return at < len(words) and int(words[at]) == wanted


@lru_cache(maxsize=1)
def _word_hashes() -> np.ndarray:
    """The sorted 64-bit hashes of the listed words, case-folded: compiled once per machine into the
    cache folder (3 MB, memory-mapped: a query that asks needs no time to load 350,000 words)."""
    lists = [path for path in WORD_LISTS if path.is_file()]
    if not lists:
        return np.zeros(0, np.uint64)
    stamp = repr([(str(path), path.stat().st_size, path.stat().st_mtime_ns) for path in lists])
    cache = cache_folder() / f"english-words-{hashlib.sha1(stamp.encode()).hexdigest()[:16]}.npy"
    try:
        found = mapped(cache)
        if found.dtype == np.uint64 and found.ndim == 1 and len(found):
            return found
    except (OSError, ValueError):
        pass  # none yet, or damaged: compiled again
    words = {fold(line.strip()) for path in lists
             for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()}
    hashes = np.unique(np.fromiter((digest64(word) for word in words), np.uint64, len(words)))
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        replace_path(cache, lambda tmp: np.save(open(tmp, "wb"), hashes, allow_pickle=False))
    except OSError:
        pass  # a read-only cache folder: every process compiles it
    return hashes
