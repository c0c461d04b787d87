"""Analysis: words, Russian lemmas, English stems, exact forms and name keys."""

from pathlib import Path

import pytest

from search import analysis
from search.analysis import analyse, fold, name_keys, normal_forms, word_terms, words
from search.languages import english
from search.languages.names import name_key


def body_terms(text: str) -> set[str]:
    return {term for term, _ in analyse(text).body}


def test_russian_inflections_share_a_lemma() -> None:
    assert set(normal_forms("сотрудничеству")) & set(normal_forms("сотрудничества")) == {"сотрудничество"}
    assert "оборона" in normal_forms("обороны")


def test_every_normal_form_is_indexed_not_only_the_top_parse() -> None:
    assert {"чжухай", "чжухая"} <= set(normal_forms("Чжухае"))
    assert {"сталь", "стать"} <= set(normal_forms("стали"))


def test_yo_is_folded_to_ye_in_every_field() -> None:
    assert fold("Ещё") == "еще"
    assert normal_forms("ещё") == normal_forms("еще")
    assert all("ё" not in term for field in analyse("Её партнёрство") for term, _ in field)


def test_english_words_are_stemmed() -> None:
    assert normal_forms("licensing") == normal_forms("licenses") == ("licens",)
    assert normal_forms("Russia's") == normal_forms("russia")


def test_hyphenated_compounds_are_indexed_whole_and_as_parts() -> None:
    parts = {*normal_forms("военно"), *normal_forms("технического")}
    assert {"военно-технический", "технический"} | parts <= body_terms("военно-технического")
    assert {"russia-china", "russia", "china"} <= body_terms("Russia-China")
    compound, first, second = list(words("Russia-China"))
    assert (compound.pos, first.pos, second.pos) == (0, 0, 1)


def test_numbers_and_abbreviations_are_kept() -> None:
    assert {"1949", "пво", "pla", "fsmtc"} <= body_terms("1949 ПВО PLA FSMTC")


def test_each_word_is_analysed_by_its_own_script() -> None:
    terms = body_terms("Airshow China в китайском Чжухае")
    assert {"airshow", "china", "китайский", "чжухай"} <= terms


def test_word_offsets_point_at_the_word() -> None:
    text = "Китай проявил интерес к ПВО"
    assert all(text[w.start:w.end] == w.text for w in words(text))


def test_exact_field_keeps_surface_forms_with_positions() -> None:
    assert analyse("Военного сотрудничества").exact == (("военного", 0), ("сотрудничества", 1))


def test_name_keys_are_indexed_for_capitalised_words_only() -> None:
    keys = {term for term, _ in analyse("генеральный директор «Рособоронэкспорта»").names}
    assert keys == set(name_keys("Рособоронэкспорта"))
    assert name_keys("Рособоронэкспорта") == name_keys("Rosoboronexport")


@pytest.mark.parametrize(("inflected", "latin"), [("Теслой", "Tesla"), ("Лютера", "Luther"), ("Вейлом", "Weil")])
def test_inflected_foreign_names_meet_their_latin_spelling(inflected: str, latin: str) -> None:
    # pymorphy3 guesses the lemma of an unknown name badly; the word less its ending still joins
    assert set(name_keys(inflected)) & set(name_keys(latin))


def test_english_contractions_are_stop_words() -> None:
    assert english.is_stopword("it's") and english.is_stopword("Don’t")
    assert not english.is_stopword("Jones's")


def test_a_query_keys_an_adjective_made_from_a_name_as_the_name() -> None:
    assert name_key("Harlem") in name_keys("гарлемских", query=True)
    assert name_key("Harlem") not in name_keys("гарлемских")  # the index keys words as written


@pytest.fixture()
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache folder for the machine, and this process's memo of words' terms empty."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    analysis.forget_terms()
    monkeypatch.setattr(analysis, "_fresh", {})
    monkeypatch.setattr(analysis, "_unnoted", False)
    yield tmp_path
    analysis.forget_terms()


def _analysis_gone(monkeypatch: pytest.MonkeyPatch) -> None:
    """From here on, a word's terms found by analysing it fail the test."""
    analysis.forget_terms()

    def unavailable(word: str) -> None:
        raise AssertionError(f"{word} was analysed")
    monkeypatch.setattr(analysis, "normal_forms", unavailable)
    monkeypatch.setattr(analysis, "name_keys", unavailable)


TEXT = ("Рособоронэкспорта и «Сухой» подписали военно-техническое соглашение с Russia's Rosoboronexport "
        "in Zhuhai; Шойгу встретился с Mikheev.")


def test_a_words_terms_are_kept_for_the_machine_and_read_back_as_the_indexer_found_them(
        own_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with analysis.analysed_afresh():  # as the indexer does, for each segment it builds
        indexed = analyse(TEXT)
        found = {word.text: word_terms(word.text) for word in words(TEXT)}
    analysis.freeze_kept()
    assert list(own_cache.rglob("terms-*.sqlite.frozen.npy"))
    _analysis_gone(monkeypatch)
    assert {word.text: word_terms(word.text) for word in words(TEXT)} == found  # names keys too
    assert analyse(TEXT) == indexed
    analysis.forget_terms()
    reads = []
    read = analysis.MachineCache.read
    monkeypatch.setattr(analysis.MachineCache, "read", lambda self, keys: reads.append(keys) or read(self, keys))
    assert analysis.words_terms(list(found)) == list(found.values()) and len(reads) == 1  # read together


def test_a_words_terms_kept_under_other_rules_are_not_read(own_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The table is named for what the terms depend on (pymorphy3, the stemmer, the rules' code)."""
    with analysis.analysed_afresh():
        word_terms("Шойгу")
    monkeypatch.setattr(analysis, "analysis_stamp", lambda: "other rules")
    analysis.forget_terms()
    asked = []
    keys = analysis.name_keys
    monkeypatch.setattr(analysis, "name_keys", lambda word: asked.append(word) or keys(word))
    assert word_terms("Шойгу")[2] == (name_key("Шойгу"),) and asked == ["Шойгу"]


def test_a_word_a_query_met_first_is_kept_when_the_same_process_indexes_it(
        own_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    word_terms("Рособоронэкспорта")  # a query's highlighting, before any table
    with analysis.analysed_afresh():
        word_terms("Рособоронэкспорта")
    _analysis_gone(monkeypatch)
    assert word_terms("Рособоронэкспорта") == (("рособоронэкспорт",), "рособоронэкспорта", (name_key("Рособоронэкспорт"),))
