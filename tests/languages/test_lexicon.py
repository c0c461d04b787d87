"""The lexicon: a dictd dictionary (a tiny one written here) and the glossary, both ways."""

from pathlib import Path

import pytest

from search.files import FrozenTable
from search.languages import lexicon
from search.languages.lexicon import compile_lexicon, parse_entry

from ..conftest import write_dictd

ENTRIES = {
    "defence": "   [dɪ↗fɛns] _n.\n   1) оборона; защита\n   2) _pl. _воен. укрепления, оборонительные сооружения\n"
               "   3) _юр. защита (на суде); оправдание; counsel for the defence\n   защитник обвиняемого",
    "defense": "   [dɪ↗fɛns] _ам. = defence _n.",
    "weapon": "   [↗wɛpɜn] _n.\n   1) оружие; _перен. средство; weapon of mass destruction оружие массового\n   уничтожения",
    "system": "   [↗sɪstɪm] _n. 1) система 2) метод; устройство",
    "find": "   [faɪnd] _v. (found) 1) находить; обнаруживать 2) считать",
    "found": "   _I  [faʊnd] _v.\n      1) основывать, учреждать\n   _II [faʊnd] _v. плавить, лить\n"
             "   _III[faʊnd]\n         1. _p. и _p-p. от find 1",
    "die": "   [daɪ] _v. 1) умирать, скончаться 2) засыхать",
    "city": "   [↗sɪtɪ] _n.\n   1) большой, старинный город (в Англии)\n   2) _attr. городской",
    "technician": "   [tɛk↗nɪʃɜn] _n.\n   1) человек, знающий своё дело; специалист",
    "away": "   [ɜ↗wɛɪ] _adv.\n   1) обозначает движение, удаление прочь; прочь",
    "acknowledge": "   [ɜk↗nɘlɪdʒ] г\n   1) сознавать; признавать",
    "man": "   [mæn] _n. (_pl. men)\n   1) мужчина\n   2) человек; every man каждый; "
           "the man in the street обыватель, средний человек; man of letters писатель; "
           "man of the world человек, знающий свет; man and wife муж и жена",
    "dasher": "   [↗dæʃɜ] _n. человек; лихач",
}


@pytest.fixture()
def tiny(tmp_path: Path) -> lexicon.Lexicon:
    glossary = tmp_path / "glossary.tsv"
    glossary.write_text("# comment\nair defense\tПВО; противовоздушная оборона\nBeijing\tПекин\nUS\tСША\nSenate\tсенат\n",
                        encoding="utf-8")
    return compile_lexicon(write_dictd(tmp_path, ENTRIES), glossary)


def test_senses_are_parsed_into_clean_terms_in_order() -> None:
    terms, references, forms_of = parse_entry("defence\n" + ENTRIES["defence"])
    assert terms[:3] == [("оборона",), ("защита",), ("укрепления",)]
    assert ("оборонительные", "сооружения") in terms
    assert not any("защитник" in " ".join(t) for t in terms)  # from an example with Latin text
    assert references == forms_of == []


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


def test_forms_take_their_base_words_terms_but_are_not_offered_back(tiny: lexicon.Lexicon) -> None:
    found = [t.text for t in tiny.lookup(["found"], "en")]
    assert found[:2] == ["основывать", "учреждать"] and "находить" in found
    assert [t.text for t in tiny.lookup(["нашёл"], "ru")] == ["find"]


def test_homographs_are_separate_senses(tiny: lexicon.Lexicon) -> None:
    found = [t.text for t in tiny.lookup(["found"], "en")]
    assert "плавить" in found and "учреждать плавить" not in found


def test_adjectives_before_a_noun_qualify_it(tiny: lexicon.Lexicon) -> None:
    city = [t.text for t in tiny.lookup(["city"], "en")]
    assert "город" in city and "большой" not in city


def test_descriptions_glosses_and_stray_letters_are_not_translations(tiny: lexicon.Lexicon) -> None:
    assert [t.text for t in tiny.lookup(["technician"], "en")] == ["специалист"]
    assert [t.text for t in tiny.lookup(["away"], "en")] == ["удаление прочь", "прочь"]
    assert [t.text for t in tiny.lookup(["acknowledge"], "en")] == ["сознавать", "признавать"]


def test_common_words_outrank_rare_ones_in_reverse(tiny: lexicon.Lexicon) -> None:
    # человек is the first sense of dasher but only the second of man, whose entry is long
    assert "dasher" in [t.text for t in tiny.lookup(["человек"], "ru")]
    assert tiny.lookup(["человек"], "ru")[0].text == "man"


def test_russian_verbs_find_the_dictionarys_aspect_partner(tiny: lexicon.Lexicon) -> None:
    assert "die" in [t.text for t in tiny.lookup(["умер"], "ru")]  # the dictionary lists умирать


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


def test_the_compiled_lexicon_is_cached_once_per_machine(tmp_path: Path) -> None:
    lexicon.load(tmp_path)
    (cache,) = tmp_path.glob("lexicon-*.sqlite")
    assert cache.stat().st_size > 0
    assert lexicon.load(tmp_path).lookup(["beijing"], "en")[0].text == "Пекин"


def test_a_current_cache_is_left_alone_and_a_broken_one_rebuilt(tmp_path: Path) -> None:
    lexicon.load(tmp_path)
    (cache,) = tmp_path.glob("lexicon-*.sqlite")
    before = cache.stat().st_mtime_ns
    lexicon.load(tmp_path)
    assert cache.stat().st_mtime_ns == before
    cache.write_bytes(b"garbage")
    assert lexicon.load(tmp_path).lookup(["beijing"], "en")[0].text == "Пекин"
    assert isinstance(lexicon.load(tmp_path).en_ru, lexicon._StoredTable)


@pytest.mark.parametrize("frozen", [True, False])
def test_the_cache_answers_as_the_compiled_lexicon_does(tmp_path: Path, frozen: bool) -> None:
    """From its frozen tables, or from SQLite alone (a cache written before them)."""
    compiled = lexicon._compiled(lexicon._stamp())
    lexicon.load(tmp_path)
    if not frozen:
        for path in tmp_path.glob("lexicon-*.sqlite.*.npy"):
            path.unlink()
    stored = lexicon.load(tmp_path)
    assert isinstance(stored.en_ru, lexicon._StoredTable)  # read on demand, not loaded whole
    for words, lang in ((["defense"], "en"), (["air", "defense"], "en"), (["cities"], "en"),
                        (["оборона"], "ru"), (["умер"], "ru"), (["Пекине"], "ru"), (["zzqqxx"], "en")):
        assert stored.lookup(words, lang) == compiled.lookup(words, lang), words
    for word in ("air", "qqzz", "ai", "united"):
        assert compiled.en_ru.starts_phrase(word) == stored.en_ru.starts_phrase(word), word
    assert (stored.en_ru._frozen is not None) == frozen  # type: ignore[attr-defined]
    assert stored.has_dictionary == compiled.has_dictionary
    assert len(stored.ru_en) == len(compiled.ru_en)


def _reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The keys the frozen tables are asked for, from now on."""
    asked: list[str] = []
    get_bytes = FrozenTable.get_bytes
    monkeypatch.setattr(FrozenTable, "get_bytes", lambda self, key: asked.append(key) or get_bytes(self, key))
    return asked


def test_the_cache_reads_each_entry_or_its_absence_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """From the frozen tables: SQLite is not asked."""
    lexicon.load(tmp_path)
    stored = lexicon.load(tmp_path)
    statements: list[str] = []
    stored.en_ru._db.set_trace_callback(statements.append)  # type: ignore[attr-defined]
    asked = _reads(monkeypatch)
    first = [stored.lookup(["defense"], "en"), stored.lookup(["zzqqxx"], "en")]
    read = len(asked)
    assert read >= 2 and first[0] and not first[1]
    assert [stored.lookup(["defense"], "en"), stored.lookup(["zzqqxx"], "en")] == first
    assert len(asked) == read and statements == []


def test_a_run_of_words_whose_first_starts_no_phrase_is_not_looked_up(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    lexicon.load(tmp_path)
    stored = lexicon.load(tmp_path)
    assert stored.en_ru.starts_phrase("air") and stored.ru_en.starts_phrase("воздушный")
    assert not stored.en_ru.starts_phrase("qqzz") and not stored.en_ru.starts_phrase("ai")
    asked = _reads(monkeypatch)
    assert stored.lookup(["qqzz", "defense"], "en") == () and stored.lookup(["ккщщ", "обороны"], "ru") == ()
    assert asked and not any(" " in key for key in asked)  # first words only: no phrase looked up
    assert stored.lookup(["air", "defense"], "en")
    assert "air defense" in asked


def test_abbreviations_written_with_dots_find_their_entry(tiny: lexicon.Lexicon) -> None:
    assert [t.words for t in tiny.lookup(["U.S"], "en")] == [("США",)]
    assert [t.words for t in tiny.lookup(["u.s."], "en")] == [("США",)]


def test_a_relational_adjective_the_dictionary_lacks_takes_its_nouns_translations(tiny: lexicon.Lexicon) -> None:
    found = tiny.lookup(["Сенатские"], "ru")
    assert [t.words for t in found] == [("Senate",)] and found[0].related
