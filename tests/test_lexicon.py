"""The lexicon: a dictd dictionary (a tiny one written here) and the glossary, both ways."""

from pathlib import Path

import pytest

from search.languages import lexicon
from search.languages.lexicon import compile_lexicon, parse_entry

from .conftest import write_dictd

ENTRIES = {
    "defence": "   [dɪ↗fɛns] _n.\n   1) оборона; защита\n   2) _pl. _воен. укрепления, оборонительные сооружения\n"
               "   3) _юр. защита (на суде); оправдание; counsel for the defence\n   защитник обвиняемого",
    "defense": "   [dɪ↗fɛns] _ам. = defence _n.",
    "weapon": "   [↗wɛpɜn] _n.\n   1) оружие; _перен. средство; weapon of mass destruction оружие массового\n   уничтожения",
    "system": "   [↗sɪstɪm] _n. 1) система 2) метод; устройство",
}


@pytest.fixture()
def tiny(tmp_path: Path) -> lexicon.Lexicon:
    glossary = tmp_path / "glossary.tsv"
    glossary.write_text("# comment\nair defense\tПВО; противовоздушная оборона\nBeijing\tПекин\n", encoding="utf-8")
    return compile_lexicon(write_dictd(tmp_path, ENTRIES), glossary)


def test_senses_are_parsed_into_clean_terms_in_order() -> None:
    terms, references = parse_entry("defence\n" + ENTRIES["defence"])
    assert terms[:3] == [("оборона",), ("защита",), ("укрепления",)]
    assert ("оборонительные", "сооружения") in terms
    assert not any("защитник" in " ".join(t) for t in terms)  # from an example with Latin text
    assert references == []


def test_references_are_followed(tiny: lexicon.Lexicon) -> None:
    assert [t.text for t in tiny.lookup(["defense"], "en")][:2] == ["оборона", "защита"]


def test_weights_follow_sense_rank_and_sum_to_one(tiny: lexicon.Lexicon) -> None:
    translations = tiny.lookup(["defence"], "en")
    weights = [t.weight for t in translations]
    assert weights == sorted(weights, reverse=True)
    assert sum(weights) == pytest.approx(1.0)
    assert sum(t.weight for t in tiny.lookup(["weapon"], "en")) == pytest.approx(1.0)


def test_inflected_and_american_forms_find_the_headword(tiny: lexicon.Lexicon) -> None:
    assert tiny.lookup(["weapons"], "en")[0].text == "оружие"
    assert tiny.lookup(["Systems"], "en")[0].text == "система"


def test_russian_to_english_is_the_reverse_map(tiny: lexicon.Lexicon) -> None:
    assert {"defence", "defense"} <= {t.text for t in tiny.lookup(["обороны"], "ru")}
    assert tiny.lookup(["оружием"], "ru")[0].text == "weapon"


def test_glossary_phrases_both_ways(tiny: lexicon.Lexicon) -> None:
    assert [t.text for t in tiny.lookup(["air", "defense"], "en")] == ["ПВО", "противовоздушная оборона"]
    assert tiny.lookup(["противовоздушной", "обороны"], "ru")[0].text == "air defense"
    assert tiny.lookup(["Пекине"], "ru")[0].origin == "glossary"


def test_without_the_dictionary_the_glossary_still_works(tmp_path: Path) -> None:
    glossary = tmp_path / "glossary.tsv"
    glossary.write_text("drone\tбеспилотник\n", encoding="utf-8")
    lx = compile_lexicon(tmp_path / "missing", glossary)
    assert not lx.has_dictionary
    assert lx.lookup(["drones"], "en")[0].text == "беспилотник"


def test_the_real_glossary_is_well_formed() -> None:
    pairs = list(lexicon.read_glossary(lexicon.GLOSSARY))
    assert len(pairs) > 100
    for english, russian in pairs:
        assert english.isascii(), english
        assert all(any("а" <= c.lower() <= "я" for c in term) for term in russian), english


def test_compiled_lexicon_is_cached_beside_the_index(tmp_path: Path) -> None:
    lexicon.load(tmp_path)
    assert (tmp_path / "lexicon.marshal").stat().st_size > 0
    assert lexicon.load(tmp_path).lookup(["beijing"], "en")[0].text == "Пекин"


def test_a_current_cache_is_left_alone(tmp_path: Path) -> None:
    lexicon.ensure_cached(tmp_path)
    cache = tmp_path / lexicon.CACHE_NAME
    before = cache.stat().st_mtime_ns
    lexicon.ensure_cached(tmp_path)
    assert cache.stat().st_mtime_ns == before
    cache.write_bytes(b"garbage")
    lexicon.ensure_cached(tmp_path)
    assert lexicon.load(tmp_path).lookup(["beijing"], "en")[0].text == "Пекин"
