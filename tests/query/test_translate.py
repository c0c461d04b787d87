"""Cross-language expansion, specified on the project's glossary (no index, no dictionary, no encoder)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from search.analysis import query_forms
from search.languages.lexicon import GLOSSARY, compile_lexicon
from search.query.parser import And, Node, Not, Or, Phrase, Term, parse
from search.query.translate import Expanded, Translator, expansions
from search.ranking.fusion import RANKING

LEXICON = compile_lexicon(Path("/nonexistent/dictionary"), GLOSSARY)


def translate(text: str, occurs=lambda term: True, **options) -> Node:  # type: ignore[no-untyped-def]
    return Translator(LEXICON, occurs, **options).translate(parse(text).root)


def expanded(text: str, **options) -> dict[str, Expanded]:  # type: ignore[no-untyped-def]
    return {e.source: e for e in expansions(translate(text, **options))}


def test_a_word_keeps_its_literal_form_beside_its_translations() -> None:
    drone = expanded("drone")["drone"]
    assert drone.literal == Term("drone")
    assert [(a.text, a.lang, a.origin) for a in drone.alternatives] == [
        ("беспилотник", "ru", "glossary"), ("дрон", "ru", "glossary")]


def test_translation_weights_sum_to_the_translation_weight_most_common_sense_first() -> None:
    weights = [a.weight for a in expanded("radar")["radar"].alternatives]
    assert sum(weights) == pytest.approx(RANKING.translation_weight)
    assert weights == sorted(weights, reverse=True)


def test_translations_the_index_lacks_are_dropped_and_their_weight_goes_to_the_rest() -> None:
    drone = expanded("drone", occurs=lambda term: term != "дрон")["drone"]
    assert [(a.text, a.weight) for a in drone.alternatives] == [("беспилотник", RANKING.translation_weight)]


def test_a_word_with_no_translation_that_occurs_stays_literal() -> None:
    assert translate("drone", occurs=lambda term: False, use_names=False) == Term("drone")


def test_a_phrase_the_lexicon_knows_is_translated_as_one_unit_not_word_by_word() -> None:
    found = expanded("air defense", use_names=False)
    assert found["air defense"].literal is None  # its words stay in the query on their own
    assert {a.text for a in found["air defense"].alternatives} == {"ПВО", "противовоздушная оборона"}
    assert "air" not in found and "defense" not in found


def test_russian_translates_to_english() -> None:
    alternatives = expanded("беспилотник")["беспилотник"].alternatives
    assert ("drone", "en") in {(a.text, a.lang) for a in alternatives}


def test_a_capitalised_word_the_lexicon_lacks_gets_its_name_key() -> None:
    shoigu = expanded("Shoigu")["Shoigu"]
    assert [(a.origin, a.lang, a.weight) for a in shoigu.alternatives] == [("names", None, RANKING.name_weight)]


@pytest.mark.parametrize("text", ['"air defense"', "=drone", "dron*"])
def test_phrases_exact_words_and_prefixes_are_never_translated(text: str) -> None:
    root = translate(text)
    assert not expansions(root)
    assert isinstance(root, (Phrase, Term))


def test_stop_words_are_not_translated() -> None:
    root = translate("the drone")
    assert isinstance(root, Or) and root.items[0] == Term("the")


def test_operators_keep_their_shape() -> None:
    root = translate("drone AND NOT radar")
    assert isinstance(root, And) and isinstance(root.items[1], Not)
    assert [e.source for e in expansions(root)] == ["drone", "radar"]


def test_each_mechanism_can_be_switched_off() -> None:
    assert not expanded("Shoigu", use_names=False)
    assert translate("drone", use_lexicon=False) == Term("drone")  # a dictionary word is rarely a name
    assert [a.origin for a in expanded("Shoigu", use_lexicon=False)["Shoigu"].alternatives] == ["names"]


def test_without_word_vectors_the_lexicons_own_order_ranks_translations() -> None:
    alternatives = expanded("radar")["radar"].alternatives
    glossary_order = [t.text for t in LEXICON.lookup(["radar"], "en")]
    assert [a.text for a in alternatives] == glossary_order


def test_word_vectors_decide_the_weights_when_given() -> None:
    """Similarity to the source word, not the glossary's order, weighs the senses."""
    def vectors(texts):  # type: ignore[no-untyped-def]
        import numpy as np

        rows = {"radar": [1.0, 0.0], "радар": [1.0, 0.0], "радиолокатор": [0.0, 1.0], "РЛС": [0.0, 1.0]}
        return np.array([rows.get(text, [0.5, 0.5]) for text in texts], dtype=np.float32)

    alternatives = expanded("radar", word_vectors=vectors, use_names=False)["radar"].alternatives
    assert alternatives[0].text == "радар"
    assert sum(a.weight for a in alternatives) == pytest.approx(RANKING.translation_weight)


def test_the_ranking_sets_how_many_translations_a_word_keeps() -> None:
    alternatives = expanded("radar", ranking=replace(RANKING, max_translations=1))["radar"].alternatives
    assert [a.text for a in alternatives if a.origin == "glossary"] == ["радиолокатор"]


def test_whether_a_translation_occurs_is_asked_best_first_only_until_enough_are_kept() -> None:
    """Each question costs a new word look-ups of its lemmas and terms; the weaker senses after
    the ones kept cannot change the translation."""
    asked: list[str] = []

    def occurs(term: str) -> bool:
        asked.append(term)
        return term != "радиолокатор"

    ranking = replace(RANKING, max_translations=1)
    alternatives = expanded("radar", occurs=occurs, use_names=False, ranking=ranking)["radar"].alternatives
    everything = [t.text for t in LEXICON.lookup(["radar"], "en")]
    assert len(everything) >= 3 and everything[0] == "радиолокатор"
    assert [(a.text, a.weight) for a in alternatives] == [(everything[1], RANKING.translation_weight)]
    # the best sense's forms, none of which occurs, then the next sense's first form, which does
    assert asked == [*query_forms(everything[0]), query_forms(everything[1])[0]]
