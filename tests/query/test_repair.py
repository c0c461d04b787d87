"""query.repair: a mistyped word is searched as the word meant; a word the index has never is."""

from __future__ import annotations

import pytest

from search import Index
from search.languages import russian
from search.languages.keyboard import other_layout
from search.languages.translit import readings
from search.query.repair import Spelling


@pytest.mark.parametrize(("typed", "meant"), [
    ("кщыщищкщтучзщке", "rosoboronexport"),
    ("Hjcj,jhjy'rcgjhn", "Рособоронэкспорт"),
    ("gjldjlyst", "подводные"),
    ("Vtldtltd", "Медведев"),
])
def test_keys_read_in_the_other_layout(typed: str, meant: str) -> None:
    assert other_layout(typed) == meant
    assert other_layout(meant) == typed


@pytest.mark.parametrize(("latin", "cyrillic"), [
    ("podvodnye", "подводные"),  # BGN/PCGN: y for ы
    ("sotrudnichestva", "сотрудничества"),  # inflected forms too
    ("Shankhaiskaya", "шанхайская"),  # kh, i for й, ya
    ("organizatsiya", "организация"),
    ("soobshchenie", "сообщение"),  # shch
    ("sovmestnyje", "совместные"),  # je
    ("vooruzhennykh", "вооружённых"),
])
def test_latin_spellings_read_as_the_russian_word(latin: str, cyrillic: str) -> None:
    assert readings(latin, russian.is_known_prefix, russian.is_known)[0] == cyrillic


def test_a_typo_is_corrected_to_the_most_frequent_of_the_closest_words() -> None:
    spelling = Spelling(["government", "equipment", "equipments", "rosoboronexport"])
    assert spelling.correct("equipmnet") == "equipment"  # a swap of neighbours is one edit
    assert spelling.correct("rosoboronexprot") == "rosoboronexport"
    assert spelling.correct("goverment") == "government"
    assert spelling.correct("equipment") is None  # already a word
    assert spelling.correct("cat") is None  # too short to correct


@pytest.mark.parametrize(("typed", "searched", "kinds"), [
    ("кщыщищкщтучзщке", "rosoboronexport", ["layout"]),
    ("Hjcj,jhjy'rcgjhn", "Рособоронэкспорт", ["layout"]),
    ("gjldjlyst kjlrb", "подводные лодки", ["layout", "layout"]),
    ("podvodnye lodki", "подводные лодки", ["transliteration"] * 2),
    ("Shankhaiskaya organizatsiya sotrudnichestva", "Шанхайская организация сотрудничества",
     ["transliteration"] * 3),
    ("voenno-tekhnicheskoe sotrudnichestvo", "военно-техническое сотрудничество", ["transliteration"] * 2),
    ("Rosoboronexprot", "Rosoboronexport", ["typo"]),
    ("radar equipmnet", "radar equipment", ["typo"]),
])
def test_mistyped_queries_find_what_the_clean_query_finds(seeds_index: Index, typed: str, searched: str,
                                                          kinds: list[str]) -> None:
    results = seeds_index.search(typed)
    assert results.corrected == searched and [c.kind for c in results.corrections] == kinds
    clean = seeds_index.search(searched)
    assert [(h.doc, h.passage) for h in results.hits] == [(h.doc, h.passage) for h in clean.hits]
    assert results.hits


@pytest.mark.parametrize("meant", ["Rosoboronexport signed the NATO contract on air defense systems",
                                   "Рособоронэкспорт поставит НАТО системы ПВО"])
def test_a_query_typed_in_the_wrong_layout_is_read_in_the_other_one_as_a_whole(seeds_index: Index,
                                                                                  meant: str) -> None:
    """Most of its words are layout slips, so its short words, acronyms and names are too (NATO
    typed as ТФЕЩ is left alone in a query that is otherwise right)."""
    typed = other_layout(meant)
    assert seeds_index.search(typed).corrected == meant
    assert seeds_index.search(f"Rosoboronexport {other_layout('NATO')}").corrected is None


@pytest.mark.parametrize("query", ["Rosoboronexport", "air defense systems", "Рособоронэкспорта", "Xu",
                                   "=Rosoboronexprot", '"podvodnye lodki"', "equipmn*", "lang:ru Rosoboronexport"])
def test_found_words_and_literal_syntax_are_never_repaired(seeds_index: Index, query: str) -> None:
    assert seeds_index.search(query).corrected is None


@pytest.mark.parametrize("query", [
    "XV века", "Екатерина II",  # Roman numerals
    "AAA", "SP",  # acronyms
    "Columbia", "Yale", "Gazprom",  # capitalised names in Latin letters (the name key finds them in Cyrillic)
    "septicemia", "Californian", "rebranded",  # English words the index lacks (rebranded: re + branded)
    "давным-давно", "по-голландски",  # Russian words as a whole, whatever their parts
])
def test_what_is_no_slip_is_searched_as_typed(seeds_index: Index, query: str) -> None:
    assert seeds_index.search(query).corrections == ()


def test_a_capitalised_word_is_read_as_russian_beside_other_russian_in_latin_letters(seeds_index: Index) -> None:
    assert seeds_index.search("Sovmestnye voennye ucheniya").corrected == "Совместные военные учения"
    assert seeds_index.search("Kogda byla osnovana Ekaterina").corrected == "Когда была основана Екатерина"
    assert seeds_index.search("Ekaterina").corrections == ()  # alone, a name: its key finds Екатерина


def test_no_cross_keeps_the_query_literal(seeds_index: Index) -> None:
    assert seeds_index.search("podvodnye lodki", cross=False).corrected is None


def test_a_name_the_index_holds_in_the_other_script_is_no_slip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ru.txt").write_text("Сара Пэйлин рассказала о сыне.", encoding="utf-8")
    (docs / "en.txt").write_text("Hurricane Rosa threatens Phoenix.", encoding="utf-8")
    with Index(tmp_path / "ix") as index:
        index.update([str(docs)], vectors=False)
        results = index.search("Sarah Palin")
        assert results.corrected is None  # not Сарах, the Russian reading of the letters
        assert [hit.lang for hit in results.hits] == ["ru"]
