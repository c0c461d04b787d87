"""Russian morphology: every normal form pymorphy3 offers for a word, memoised.

pymorphy3's top parse is sometimes wrong for names (Чжухае, Ростехом), so, as
Manticore's ``lemmatize_ru_all`` does, we index all normal forms instead of one.
"""

from __future__ import annotations

from functools import lru_cache

import pymorphy3

STOPWORDS = frozenset(
    """
    а без более бы был была были было быть в вам вас весь во вот все всего всех вы где да
    даже для до его ее ей ему если есть еще же за здесь и из или им их к как какой какая
    какие каким кем когда кого ком кто куда ли либо между меня мне много может мы на над
    надо наш не него нее нет ни них но ну о об однако он она они оно от очень по под при
    про с сам свой себя со так также такой там те тем то того тоже той только том ту ты
    у уже хотя чего чей чем что чтобы чье чья эта эти это этот я
    сколько каков какое каких каком почему зачем откуда который которая которое которые
    """.split()
)


@lru_cache(maxsize=1)
def _morph() -> pymorphy3.MorphAnalyzer:
    return pymorphy3.MorphAnalyzer(lang="ru")


def fold(word: str) -> str:
    """Case-fold and fold ё to е, as both index and queries do."""
    return word.lower().replace("ё", "е")


@lru_cache(maxsize=500_000)
def lemmas(word: str) -> tuple[str, ...]:
    """All normal forms of a Russian word, folded, most probable first, without repeats.

    Hyphenated compounds keep the hyphen (военно-технического -> военно-технический).
    """
    forms = dict.fromkeys(fold(parse.normal_form) for parse in _morph().parse(fold(word)))
    return tuple(forms) or (fold(word),)


def is_stopword(word: str) -> bool:
    """Function words that carry no topic: not translated, not searched in long queries."""
    return fold(word) in STOPWORDS
