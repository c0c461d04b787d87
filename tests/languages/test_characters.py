"""Character classes: every dash, apostrophe and quote is folded the same way in documents and queries."""

import sys
import unicodedata

import pytest

from search.analysis import fold, words
from search.languages.characters import APOSTROPHES, HYPHENS, fold_marks, split_compound

EVERY_DASH = [chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Pd"]


def test_the_hyphens_are_every_unicode_dash() -> None:
    assert set(EVERY_DASH) <= set(HYPHENS)
    assert all(unicodedata.category(c) == "Pd" for c in HYPHENS)


@pytest.mark.parametrize("dash", EVERY_DASH, ids=lambda c: f"U+{ord(c):04X}")
def test_any_dash_joins_a_compound_and_folds_to_a_hyphen(dash: str) -> None:
    text = f"военно{dash}технического сотрудничества"
    assert [(w.text, w.compound) for w in words(text)][:3] == [
        (f"военно{dash}технического", True), ("военно", False), ("технического", False)]
    assert fold(f"Russia{dash}China") == "russia-china"
    assert split_compound(f"a{dash}b{dash}c") == ["a", "b", "c"]


@pytest.mark.parametrize("apostrophe", APOSTROPHES, ids=lambda c: f"U+{ord(c):04X}")
def test_any_apostrophe_stays_inside_a_word_and_folds_to_ascii(apostrophe: str) -> None:
    (word,) = [w.text for w in words(f"O{apostrophe}Brien")]
    assert word == f"O{apostrophe}Brien"
    assert fold(word) == "o'brien"
    assert fold_marks(f"don{apostrophe}t") == "don't"


def test_quotes_and_dashes_between_words_are_not_part_of_them() -> None:
    assert [w.text for w in words("“Moscow” — «Москва», 'Minsk'")] == ["Moscow", "Москва", "Minsk"]
