"""The two keyboard layouts people switch between: Russian ЙЦУКЕН and US QWERTY.

Text typed with the wrong one active comes out as the other script, key for key:
``кщыщищкщтучзщке`` is rosoboronexport, ``Hjcj,jhjy'rcgjhn`` is Рособоронэкспорт
(Russian letters sit on QWERTY's , . ; ' [ ] ` keys).
"""

from __future__ import annotations

from .characters import CYRILLIC

_QWERTY = "`qwertyuiop[]asdfghjkl;'zxcvbnm,./~QWERTYUIOP{}ASDFGHJKL:\"ZXCVBNM<>?"
_JCUKEN = "ёйцукенгшщзхъфывапролджэячсмитьбю.ЁЙЦУКЕНГШЩЗХЪФЫВАПРОЛДЖЭЯЧСМИТЬБЮ,"
_TO_RUSSIAN = str.maketrans(_QWERTY, _JCUKEN)
_TO_ENGLISH = str.maketrans(_JCUKEN, _QWERTY)


def other_layout(text: str) -> str:
    """``text`` as the same keys give it in the other layout: Latin keys as Russian letters when
    it has no Cyrillic, else Cyrillic keys as Latin ones."""
    if CYRILLIC.search(text):
        return text.translate(_TO_ENGLISH)
    return text.translate(_TO_RUSSIAN)
