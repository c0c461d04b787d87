"""Ranking on the seeds: BM25F over lemmas, phrases, filters, and cross-language hits."""

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from search import Cross, Index
from search.errors import InputError


def docs(index: Index, query: str, **options) -> list[str]:
    return [hit.doc.rsplit("/", 1)[-1][:3] for hit in index.search(query, **options).hits]


def test_rosoboronexport_lists_english_and_russian_passages(seeds_index: Index) -> None:
    hits = seeds_index.search("Rosoboronexport").hits
    assert {"000", "003", "002"} <= {hit.doc.rsplit("/", 1)[-1][:3] for hit in hits}
    russian = [hit for hit in hits if hit.lang == "ru"]
    assert russian and "Рособоронэкспорта" in russian[0].text


def test_russian_inflection_finds_the_russian_seed(seeds_index: Index) -> None:
    assert docs(seeds_index, "Рособоронэкспорта", lang="ru")[0] == "002"
    hits = seeds_index.search("сотрудничеству", lang="ru", cross=False).hits
    assert hits and all("сотрудничеств" in hit.text.lower() for hit in hits)


def test_english_stems_match(seeds_index: Index) -> None:
    hits = seeds_index.search("licensing", cross=False).hits
    assert hits and all("licens" in hit.text.lower() for hit in hits)


def test_phrase_returns_only_passages_with_the_phrase(seeds_index: Index) -> None:
    hits = seeds_index.search('"military cooperation"').hits
    assert len(hits) >= 3
    assert all("military cooperation" in " ".join(hit.text.lower().split()) for hit in hits)


def test_lang_filter_keeps_one_language(seeds_index: Index) -> None:
    for lang in ("en", "ru"):
        hits = seeds_index.search("China Китай", lang=lang).hits
        assert hits and {hit.lang for hit in hits} == {lang}
    assert {h.lang for h in seeds_index.search("lang:ru China").hits} == {"ru"}


def test_scores_are_non_increasing_and_ranks_count_from_one(seeds_index: Index) -> None:
    hits = seeds_index.search("military technical cooperation with China", limit=20).hits
    assert [hit.rank for hit in hits] == list(range(1, len(hits) + 1))
    assert all(a.score >= b.score for a, b in zip(hits, hits[1:]))


def test_long_natural_query_ranks_passages_matching_more_words_higher(seeds_index: Index) -> None:
    query = "when did the Soviet Union establish diplomatic relations with the People's Republic of China"
    hits = seeds_index.search(query, cross=False).hits
    assert len(hits) == 10
    assert "established diplomatic relations" in hits[0].text or "Diplomatic relations" in hits[0].text


def test_boolean_operators(seeds_index: Index) -> None:
    both = seeds_index.search("Putin AND Xi", cross=False, limit=50).hits
    assert both and all("Putin" in h.text and "Xi" in h.text for h in both)
    without = seeds_index.search("Putin NOT Xi", cross=False, limit=50).hits
    assert without and all("Putin" in h.text and "Xi " not in h.text for h in without)


def test_no_cross_searches_the_literal_query_only(seeds_index: Index) -> None:
    assert {hit.lang for hit in seeds_index.search("Rosoboronexport", cross=False, limit=50).hits} == {"en"}


def test_nonsense_finds_nothing(seeds_index: Index) -> None:
    assert seeds_index.search("zzqqxx").hits == []


def test_highlights_mark_matched_words(seeds_index: Index) -> None:
    hit = seeds_index.search("Рособоронэкспорта", lang="ru").hits[0]
    assert [hit.text[s:e] for s, e in hit.highlights] == ["Рособоронэкспорта"]


def test_empty_query_and_bad_limit_are_input_errors(seeds_index: Index) -> None:
    with pytest.raises(InputError):
        seeds_index.search("  AND ")
    with pytest.raises(InputError):
        seeds_index.search("China", limit=0)


def test_a_query_that_is_not_utf8_text_is_an_input_error(seeds_index: Index) -> None:
    """A shell passes bytes: Python keeps those that are not UTF-8 as lone surrogates."""
    with pytest.raises(InputError, match="not UTF-8"):
        seeds_index.search(b"caf\xff grain exports".decode("utf-8", "surrogateescape"))


@pytest.mark.parametrize(("query", "expected"), [
    ("противовоздушная оборона", "air defense systems"),
    ("Шойгу", "Shoigu"),
    ("Медведев", "Medvedev"),
    ("Си Цзиньпин", "Xi Jinping"),
])
def test_russian_queries_find_english_passages(seeds_index: Index, query: str, expected: str) -> None:
    hits = seeds_index.search(query, lang="en").hits
    assert any(expected in hit.text for hit in hits[:3]), [h.text[:60] for h in hits[:3]]


def test_word_vectors_choose_among_the_dictionarys_senses(seeds_index: Index) -> None:
    (expanded,) = seeds_index.search("система", lang="en").expanded
    weights = {alt.text: alt.weight for alt in expanded.alternatives}
    assert max(weights, key=weights.__getitem__) == "system" and weights["system"] > 0.5
    assert sum(weights.values()) == pytest.approx(1.0)
    lexicon_only = seeds_index.search("система", lang="en", cross=Cross(embeddings=False)).expanded[0]
    assert len(lexicon_only.alternatives) > 1 and all(a.origin == "dictionary" for a in lexicon_only.alternatives)


def test_explanation_names_where_each_alternative_came_from(seeds_index: Index) -> None:
    results = seeds_index.search("противовоздушная оборона Rosoboronexport")
    origins = {alt.origin for item in results.expanded for alt in item.alternatives}
    assert {"glossary", "names"} <= origins
    assert results.dense


def test_one_word_queries_rank_by_their_translations_alone(seeds_index: Index) -> None:
    """A word's vector says little (DENSE_FULL_WORDS): vectors are not fused, and explain says so."""
    assert not seeds_index.search("Шойгу").dense
    assert seeds_index.search("Шойгу министр").dense


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80)
       | st.lists(st.sampled_from(['"', "(", ")", "AND", "OR", "NOT", "-", "*", "=", "China", "оборона",
                                   "lang:ru", "field:", "\x00", "\t", " "]), max_size=12).map(" ".join))
@example('NOT"0')
@example("NOT China AND NOT Russia")
@example("𗀀`")  # in the other layout «𗀀ё», whose Tangut letter pymorphy3 cannot name
def test_any_query_gives_hits_or_an_input_error(seeds_index: Index, text: str) -> None:
    try:
        results = seeds_index.search(text, limit=3)
    except InputError as error:
        assert "\n" not in str(error)
    else:
        assert len(results.hits) <= 3
        assert all(hit.lang in ("en", "ru") for hit in results.hits)


def test_negation_alone_lists_passages_without_the_word(seeds_index: Index) -> None:
    hits = seeds_index.search("NOT China", cross=False, limit=100).hits
    assert hits and all("china" not in hit.text.lower() for hit in hits)


def test_a_language_filter_in_the_query_equals_the_option(seeds_index: Index) -> None:
    for query in ("China Russia", "military technical cooperation with China", "Рособоронэкспорт"):
        assert seeds_index.search(f"lang:ru {query}").hits == seeds_index.search(query, lang="ru").hits
        assert seeds_index.search(f"lang:en {query}").hits == seeds_index.search(query, lang="en").hits


@pytest.mark.parametrize("dash", [chr(c) for c in (0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0xFE63, 0xFF0D)],
                         ids=lambda c: f"U+{ord(c):04X}")
def test_a_phrase_typed_with_any_dash_finds_what_a_hyphen_finds(seeds_index: Index, dash: str) -> None:
    for phrase in ('"Russian-Chinese relations"', '"военно-техническому сотрудничеству"'):
        expected = seeds_index.search(phrase).hits
        assert expected, phrase
        assert seeds_index.search(phrase.replace("-", dash)).hits == expected
        assert seeds_index.search(f"=Russian{dash}Chinese").hits == seeds_index.search("=Russian-Chinese").hits


def test_a_failing_deep_vector_fails_the_query_instead_of_leaving_it_waiting(seeds_index: Index,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """e5's thread hands the query's vector over before it finds the nearest passages: an error in
    computing it reaches the caller, which waits for that vector (the query runs on a daemon
    thread, which a caller left waiting for ever would not keep the tests from ending)."""
    import threading

    from search.vectors import deep

    def broken(text: str) -> None:
        raise RuntimeError("the engine failed")

    monkeypatch.setattr(deep, "query", broken)
    outcome: list[BaseException] = []

    def query() -> None:
        try:
            seeds_index.search("Russian arms exports to India and China", lang="ru")
        except RuntimeError as error:
            outcome.append(error)

    caller = threading.Thread(target=query, daemon=True)
    caller.start()
    caller.join(timeout=60)
    assert not caller.is_alive(), "the query still waits for e5's vector"
    assert [str(error) for error in outcome] == ["the engine failed"]
    monkeypatch.undo()
    assert seeds_index.search("Russian arms exports to India and China", lang="ru").hits  # once it works again
