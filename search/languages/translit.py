"""Russian typed in Latin letters: the Cyrillic words a Latin spelling can stand for.

People without a Cyrillic keyboard write ``podvodnye lodki``, ``Shankhaiskaya organizatsiya
sotrudnichestva``. The systems they half-remember disagree (GOST 7.79 and ISO 9, BGN/PCGN, and
informal habits: sh, ch, zh, kh, ts, ya, yu, y for ы or й; GOST's cz, shh, y', e'), so each Latin letter or group has
several readings, the usual one first; ``readings`` walks them, keeping only prefixes of known
words. (The other direction, for name keys, is in ``names``.)
"""

from __future__ import annotations

import heapq
from typing import Callable

_GROUPS: dict[str, tuple[str, ...]] = {
    "shch": ("щ",), "sch": ("щ", "сч"), "sh": ("ш",), "ch": ("ч",), "zh": ("ж",), "kh": ("х",),
    "ts": ("ц", "тс"), "tz": ("ц",), "cz": ("ц",), "dzh": ("дж",),
    "ya": ("я", "ья"), "ja": ("я",), "ia": ("ия", "я"), "yu": ("ю", "ью"), "ju": ("ю",), "iu": ("ию", "ю"),
    "yo": ("ё", "йо"), "jo": ("ё",), "ye": ("е", "ье", "ые"), "je": ("е",), "yi": ("ый", "ий", "йи"),
    "ij": ("ий",), "yj": ("ый",), "shh": ("щ",), "y'": ("ы",), "e'": ("э",), "``": ("ъ",), "`": ("ь",),
    "a": ("а",), "b": ("б",), "c": ("ц", "к", "ч"), "d": ("д",), "e": ("е", "э", "ё"), "f": ("ф",),
    "g": ("г",), "h": ("х",), "i": ("и", "й", "ы"), "j": ("й", "ж"), "k": ("к",), "l": ("л",),
    "m": ("м",), "n": ("н",), "o": ("о",), "p": ("п",), "q": ("к",), "r": ("р",), "s": ("с",),
    "t": ("т",), "u": ("у",), "v": ("в",), "w": ("в",), "x": ("кс", "х"), "y": ("ы", "й", "ь"),
    "z": ("з",), "'": ("ь", "ъ"), "ʹ": ("ь",), "ʺ": ("ъ",),
    "š": ("ш",), "č": ("ч",), "ž": ("ж",), "ŝ": ("щ",), "ë": ("ё",), "è": ("э",), "û": ("ю",), "â": ("я",),
}
_LONGEST = max(map(len, _GROUPS))
MAX_STEPS = 4000
"""Prefixes tried per word, at most (a long word with many vowels has thousands of readings)."""


def readings(latin: str, is_prefix: Callable[[str], bool], is_word: Callable[[str], bool],
             limit: int = 4) -> list[str]:
    """Up to ``limit`` Cyrillic words that ``latin`` can be read as, likeliest first: each reading
    costs the rank of its choices (a letter read alone where a group could be read costs one more)."""
    text = latin.lower()
    found: list[str] = []
    queue: list[tuple[int, int, str]] = [(0, 0, "")]
    seen: set[tuple[int, str]] = set()
    steps = 0
    while queue and len(found) < limit and steps < MAX_STEPS:
        cost, position, prefix = heapq.heappop(queue)
        steps += 1
        if position == len(text):
            if is_word(prefix) and prefix not in found:
                found.append(prefix)
            continue
        split = 0
        for length in range(min(_LONGEST, len(text) - position), 0, -1):
            choices = _GROUPS.get(text[position:position + length])
            if not choices:
                continue
            for rank, cyrillic in enumerate(choices):
                state = (position + length, prefix + cyrillic)
                if state not in seen and is_prefix(state[1]):
                    seen.add(state)
                    heapq.heappush(queue, (cost + rank + split, *state))
            split += 1
    return found
