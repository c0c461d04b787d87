"""A phonetic key shared by the Latin and Cyrillic spellings of a name.

Rosoboronexport ~ Рособоронэкспорт, Mikheev ~ Михеев, Shoigu ~ Шойгу, Zhuhai ~ Чжухай:
both spellings are reduced to one rough Latin skeleton. Cyrillic is first
transliterated, then both sides go through the same rewrites that erase the
choices transliteration systems disagree on (x/кс, kh/h/х, ts/tz/ц, y/i/й,
-ий/-y, Palladius чж/zh), and vowels are folded into classes.
"""

from __future__ import annotations

import re
from functools import lru_cache

from .characters import CYRILLIC

_CYRILLIC_TO_LATIN = str.maketrans(
    {
        "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh",
        "з": "z", "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
        "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts",
        "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu",
        "я": "ya", "і": "i", "ї": "yi", "є": "ye", "ґ": "g",
    }
)

# Applied in order to the transliterated, lower-cased word.
_REWRITES: tuple[tuple[str, str], ...] = (
    (r"[^a-z]", ""),
    (r"chzh", "zh"),  # Palladius: Чжухай ~ Zhuhai
    (r"tszy", "ji"),  # Palladius: Цзиньпин ~ Jinping
    (r"tsz", "j"),
    (r"dzh", "j"),  # Джон ~ John
    (r"shch|sch", "sh"),
    (r"tch", "ch"),
    (r"x", "ks"),  # Rosoboronexport ~ Рособоронэкспорт
    (r"ck", "k"),
    (r"kh", "h"),  # Mikheev ~ Михеев ~ Mihejev
    (r"ph", "f"),
    (r"th", "t"),  # Thomas ~ Томас, Panthers ~ Пантерз
    (r"zh", "j"),
    (r"z", "s"),
    (r"ng$", "n"),  # pinyin: Jinping ~ Цзиньпин
    (r"ts|tz", "c"),  # Tsiolkovsky ~ Циолковский
    (r"c(?![h])", "k"),
    (r"w", "v"),
    (r"q", "k"),
    (r"(?<=[aeiouy])[jy](?=[aeiou])", ""),  # Maria ~ Мария, Aleksey ~ Алексей
    (r"^[jy](?=[aeiou])", ""),  # Yeltsin ~ Ельцин
    (r"y", "i"),  # й, ы, -y: Dmitry ~ Дмитрий
    (r"[ei]", "i"),
    (r"[ao]", "a"),
    (r"[aiu]+(?=[aiu])", ""),  # a run of vowels keeps its last: Luther ~ Лютер, Elway ~ Элвей
    (r"(.)\1+", r"\1"),  # doubled letters: Mikheev ~ Михеев
    (r"(?<=...)[aiu]$", ""),  # a final vowel is often an ending: Tesla ~ Тесл(ой), Marlee ~ Марли
)
_COMPILED = tuple((re.compile(pattern), replacement) for pattern, replacement in _REWRITES)
# Applied first, to one script's spelling: where English spelling and Russian transcription part.
_LATIN_FIRST = tuple((re.compile(p), r) for p, r in (
    (r"ew", "yu"),  # Andrew ~ Эндрю, Lewis ~ Льюис, Matthew ~ Мэттью
    (r"(?<=[aeiou])h$", ""),  # Sarah ~ Сара, Hannah ~ Ханна
    (r"(?<=[aeiou])gh", ""),  # silent: Kavanaugh ~ Кавано, Knight ~ Найт, Brighton ~ Брайтон
    (r"gh$", "g"),  # Pittsburgh ~ Питтсбург
    (r"^wr|^kn", lambda m: m.group()[1]),  # Wright ~ Райт, Knight ~ Найт
))
_CYRILLIC_FIRST = tuple((re.compile(p), r) for p, r in (
    (r"^u(?=[aeio])", "v"),  # Уоррен ~ Warren, Уильям ~ William, Уэльс ~ Wales
))


@lru_cache(maxsize=200_000)
def name_key(word: str) -> str:
    """The phonetic key of a word in either script; empty for words with no letters."""
    key = word.lower().translate(_CYRILLIC_TO_LATIN)
    for pattern, replacement in _CYRILLIC_FIRST if CYRILLIC.search(word) else _LATIN_FIRST:
        key = pattern.sub(replacement, key)
    for pattern, replacement in _COMPILED:
        key = pattern.sub(replacement, key)
    return key


def query_keys(word: str) -> tuple[str, ...]:
    """The keys a query word looks for: its own, and those of its spelling with what Russian
    transcription does to English, or the other way round: "a" as "э" (Palin ~ Пэйлин, Matthew ~
    Мэттью), and an initial "h" as the traditional "г" (Hamilton ~ Гамильтон, Harvard ~ Гарвард)."""
    lower = word.lower()
    if CYRILLIC.search(word):
        variants = (lower.replace("эй", "а").replace("э", "а"), "х" + lower[1:] if lower[:1] == "г" else lower)
    else:
        variants = (lower.replace("a", "e"), "g" + lower[1:] if lower[:1] == "h" else lower)
    return tuple(dict.fromkeys(name_key(form) for form in (word, *variants)))


def looks_like_name(word: str) -> bool:
    """Capitalised or all-capitals words of two letters or more are name candidates."""
    return len(word) > 1 and word[0].isupper()
