"""Russian morphology: every normal form pymorphy3 offers for a word, memoised.

pymorphy3's top parse is sometimes wrong for names (Чжухае, Ростехом), so, as
Manticore's ``lemmatize_ru_all`` does, we index all normal forms instead of one.

A word has the same lemmas under the same dictionary, so they are also kept per machine
(``MachineCache``): the indexer keeps those of every word it reads, and the lexicon those of
its Russian words. A query then finds the lemmas of its translations and of its hits there,
and never loads pymorphy3's dictionary (50-100 ms of a first query) unless a word is new.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import pymorphy3_dicts_ru

from ..files import MachineCache, cache_folder

if TYPE_CHECKING:
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


LAYOUT = 1
"""Of the lemmas kept per machine: bump it when ``lemmas`` changes what it returns."""


@lru_cache(maxsize=1)
def _morph() -> pymorphy3.MorphAnalyzer:
    """The analyser, given its dictionary's folder: asked for a language instead, pymorphy3 finds the
    folder through the installed packages' entry points (importlib.metadata: 35-40 ms of a first query).
    Imported here: a query whose words the machine keeps never needs it (8 ms to import)."""
    import pymorphy3

    return pymorphy3.MorphAnalyzer(path=pymorphy3_dicts_ru.get_path(), lang="ru")


def fold(word: str) -> str:
    """Case-fold and fold ё to е, as both index and queries do."""
    return word.lower().replace("ё", "е")


@lru_cache(maxsize=500_000)
def lemmas(word: str) -> tuple[str, ...]:
    """All normal forms of a Russian word, folded, most probable first, without repeats.

    Hyphenated compounds keep the hyphen (военно-технического -> военно-технический).
    """
    folded = fold(word)
    if not _afresh:
        kept = _kept().read([folded]).get(folded)
        if kept is not None:
            return tuple(kept.split("\t"))
    found = _analysed(folded)
    if _afresh:  # kept too: a query's translations by vocabulary neighbours are lemmas, whose lemmas it asks
        for lemma in found:
            if lemma != folded:
                _analysed(lemma)
    return found


@lru_cache(maxsize=500_000)
def _analysed(folded: str) -> tuple[str, ...]:
    """pymorphy3's lemmas of a folded word (noted, within ``analysed_afresh``, to be kept)."""
    global _unnoted
    found = tuple(dict.fromkeys(fold(parse.normal_form) for parse in _parses(folded))) or (folded,)
    if _afresh:
        _fresh[folded] = found
    else:
        _unnoted = True
    return found


@contextmanager
def analysed_afresh() -> Iterator[None]:
    """Within: every word is analysed by pymorphy3, and the lemmas found are kept for the machine
    at the end. For the indexer and the lexicon's compiler, which analyse whole texts: a look-up
    in the machine's table costs most of an analysis (12-14 µs against 18), and much of a new
    corpus is new words. Queries only read the table."""
    global _afresh, _unnoted
    outer, _afresh = _afresh, True
    if not outer and _unnoted:  # memoised outside, those would never be noted: analysed again
        lemmas.cache_clear()
        _analysed.cache_clear()
        _unnoted = False
    try:
        yield
    finally:
        _afresh = outer
        if not outer:
            _keep()


def analysing_afresh() -> bool:
    """Whether this process is within ``analysed_afresh`` (the indexer's, a lexicon's)."""
    return _afresh


_afresh = False
_fresh: dict[str, tuple[str, ...]] = {}
"""Lemmas found within ``analysed_afresh``, until they are kept."""
_unnoted = False
"""Whether a word was analysed outside ``analysed_afresh`` (a query of a process that indexes next)."""


def _kept() -> MachineCache:
    """The lemmas the machine keeps, for this pymorphy3 and dictionary (one file per cache folder)."""
    return _kept_in(cache_folder())


@lru_cache(maxsize=8)
def _kept_in(folder: Path) -> MachineCache:
    return MachineCache(folder / f"lemmas-{LAYOUT}-{analyser_stamp()}.sqlite")


@lru_cache(maxsize=1)
def analyser_stamp() -> str:
    """pymorphy3's code (its analyser's file as installed) and the dictionary's version: what the
    lemmas depend on, told without importing pymorphy3."""
    spec = importlib.util.find_spec("pymorphy3")
    folders = (spec.submodule_search_locations or []) if spec else []
    stamp = [(found.st_size, found.st_mtime_ns) for found in (os.stat(os.path.join(folder, "analyzer.py"))
                                                              for folder in folders)]
    return hashlib.sha1(repr((stamp, pymorphy3_dicts_ru.__version__)).encode()).hexdigest()[:16]


def _keep() -> None:
    if _fresh:  # in key order: SQLite then appends to its B-tree (a third faster)
        _kept().write((form, "\t".join(found)) for form, found in sorted(_fresh.items()))
        _fresh.clear()


def freeze_kept() -> None:
    """Lay the lemmas the machine keeps out for queries (``MachineCache.freeze``): once an indexing
    run's segments are built, and once a lexicon is compiled, not by each worker's segment. Within
    ``analysed_afresh`` (a lexicon compiled while indexing) nothing: the new lemmas are not yet kept."""
    if not _afresh:
        _kept().freeze()


_CASE_ENDING = re.compile(r"(?:ами|ями|ого|его|ому|ему|ой|ей|ом|ем|ах|ях|ов|ев|ам|ям|а|я|у|ю|е|ы|и|о)$")


def without_ending(word: str) -> str:
    """The word less a noun or adjective case ending, for names pymorphy3 does not know."""
    word = fold(word)
    stripped = _CASE_ENDING.sub("", word)
    return stripped if len(stripped) >= 3 else word


_ASPECT_SUFFIXES = (
    ("вести", "водить"), ("нести", "носить"), ("йти", "ходить"), ("дать", "давать"),
    ("знать", "знавать"), ("стать", "ставать"), ("ереть", "ирать"), ("нуть", "ать"),
    ("овать", "овывать"), ("ить", "ивать"), ("ить", "ять"), ("ить", "ать"),
    ("ать", "ивать"), ("ать", "ывать"),
)
_VERB_PREFIXES = ("пере", "пре", "при", "про", "под", "раз", "рас", "вы", "вз", "воз", "вос",
                  "за", "на", "об", "от", "до", "по", "с", "у", "о")


def related_verbs(lemma: str) -> list[str]:
    """Infinitives a dictionary may list instead of this one, most likely first.

    Dictionaries give the imperfective of an aspect pair (умирать, not умереть;
    основывать, not основать) and a verb without its reflexive or perfective
    prefix (ограничивать for ограничиваться, публиковать for опубликовать).
    """
    if not lemma.endswith(("ть", "ти", "ться", "тись", "чь")):
        return []
    reflexive = lemma.endswith(("ся", "сь"))
    base = lemma[:-2] if reflexive else lemma
    forms = [base] if reflexive else []
    for perfective, imperfective in _ASPECT_SUFFIXES:
        if base.endswith(perfective):
            forms.append(base[: -len(perfective)] + imperfective)
    for prefix in _VERB_PREFIXES:
        if base.startswith(prefix) and len(base) - len(prefix) >= 4:
            forms.append(base[len(prefix):])
    return [form for form in dict.fromkeys(forms) if form != lemma]


def adjective_bases(lemma: str) -> list[str]:
    """The noun a relational adjective is made from, where dictionaries list the noun only:
    сенатский -> сенат, гарлемский -> гарлем, нью-йоркский -> нью-йорк (its -ский cut off)."""
    if lemma.endswith(("ский", "цкий")) and len(lemma) > 6:
        return [lemma[:-4]]
    return []


def is_stopword(word: str) -> bool:
    """Function words that carry no topic: not translated, not searched in long queries."""
    return fold(word) in STOPWORDS


def _parses(folded: str) -> list:  # of pymorphy3.Parse
    """pymorphy3's parses of a folded word, most probable first; none for a word with a letter
    unicodedata cannot name (Tangut 𗀀), which pymorphy3's shape check asks of every letter."""
    try:
        return _morph().parse(folded)
    except ValueError:
        return []


def _tags(word: str) -> str:
    parses = _parses(fold(word))
    return str(parses[0].tag) if parses else ""


def is_adjective(word: str) -> bool:
    """Whether pymorphy3's best parse is a full adjective or participle (большой, старинный)."""
    return _tags(word).startswith(("ADJF", "PRTF"))


def is_noun(word: str) -> bool:
    """Whether pymorphy3's best parse is a noun (город)."""
    return _tags(word).startswith("NOUN")


def is_participle(word: str) -> bool:
    """Whether some parse of the word is a full participle (знающий)."""
    return any(str(parse.tag).startswith("PRTF") for parse in _parses(fold(word)))


def is_nominative_noun(word: str) -> bool:
    """Whether pymorphy3's best parse is a noun in the nominative (силы, город)."""
    tags = _tags(word)
    return tags.startswith("NOUN") and "nomn" in tags


def is_known(word: str) -> bool:
    """Whether pymorphy3's dictionary has this form (е may stand for ё), not merely a guess for it;
    or it is an adverb of manner made of по- and an adjective (по-голландски, по-новому), which
    the dictionary lists by the hundred but cannot list all of."""
    lower = word.lower()
    if _morph().word_is_known(lower):
        return True
    rest = lower[3:] if lower.startswith("по-") else ""
    return rest.endswith(("ски", "цки", "ьи")) and _morph().word_is_known(rest + "й") or \
        rest.endswith(("ому", "ему")) and is_adjective(rest) and _morph().word_is_known(rest)


def is_known_prefix(prefix: str) -> bool:
    """Whether some form in pymorphy3's dictionary starts with ``prefix`` (lower case, ё as ё)."""
    return _morph().dictionary.words.has_keys_with_prefix(prefix)
