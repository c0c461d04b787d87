"""English morphology: Snowball stems (PyStemmer's C implementation when installed)
and the spelling variants a British dictionary needs (defense -> defence).
"""

from __future__ import annotations

from functools import lru_cache

import snowballstemmer

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


_BRITISH_ENDINGS = (
    ("ense", "ence"),  # defense -> defence, license -> licence
    ("ization", "isation"),
    ("ize", "ise"),
    ("yze", "yse"),
    ("or", "our"),  # color -> colour
    ("er", "re"),  # center -> centre
    ("og", "ogue"),  # catalog -> catalogue
)

_PREFIXES_WITH_HYPHEN = ("co", "re", "pre", "non", "anti")


def spelling_variants(word: str) -> list[str]:
    """Other spellings under which a dictionary may list a word, most likely first.

    American -> British endings, a hyphen after common prefixes
    (cooperation -> co-operation), and plural or inflected -> base form.
    """
    word = fold(word)
    variants: list[str] = []
    for american, british in _BRITISH_ENDINGS:
        if word.endswith(american):
            variants.append(word[: -len(american)] + british)
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
