"""A parsed (and translated) query tree -> the whoosh query over the indexed fields, specified
without an index."""

from __future__ import annotations

from dataclasses import replace

from whoosh import query as wq

from search.query.compile import EVERY_PASSAGE, compile_query
from search.query.parser import Term, parse
from search.query.translate import Alternative, Expanded
from search.ranking.fusion import RANKING
from search.storage.schema import BODY, EXACT, NAMES


def compiled(text: str) -> wq.Query:
    return compile_query(parse(text).root)


def test_a_plain_word_searches_its_lemmas_with_a_bonus_for_its_exact_form() -> None:
    assert compiled("Tanks") == wq.Or([wq.Term(BODY, "tank"), wq.Term(EXACT, "tanks", boost=RANKING.exact_bonus)])
    russian = compiled("танков")
    assert wq.Term(BODY, "танк") in russian.subqueries and wq.Term(EXACT, "танков", boost=0.2) in russian.subqueries


def test_the_exact_bonus_comes_from_the_ranking() -> None:
    query = compile_query(parse("tanks").root, replace(RANKING, exact_bonus=0.5))
    assert wq.Term(EXACT, "tanks", boost=0.5) in query.subqueries


def test_exact_words_phrases_and_prefixes_search_the_exact_field() -> None:
    assert compiled("=Tanks") == wq.Term(EXACT, "tanks")
    assert compiled('"air defense"') == wq.Phrase(EXACT, ["air", "defense"])
    assert compiled('"defense"') == wq.Term(EXACT, "defense")
    assert compiled("defen*") == wq.Prefix(EXACT, "defen")


def test_stop_words_are_dropped_while_content_words_remain() -> None:
    assert compiled("the tanks") == compiled("tanks")
    only_stop_words = compiled("the")  # then they are the query
    assert only_stop_words == wq.Or([wq.Term(BODY, "the"), wq.Term(EXACT, "the", boost=RANKING.exact_bonus)])


def test_exclusions_subtract_from_the_rest_or_from_every_passage() -> None:
    assert compiled("tanks -drone") == wq.AndNot(compiled("tanks"), compiled("drone"))
    assert compiled("NOT drone") == wq.AndNot(EVERY_PASSAGE, compiled("drone"))


def test_and_requires_every_part() -> None:
    assert compiled("tanks AND drone") == wq.And([compiled("tanks"), compiled("drone")])


def test_a_word_and_its_alternatives_score_by_their_best_match() -> None:
    word = Expanded("drone", Term("drone"), (
        Alternative(("беспилотник",), "ru", 0.75, "glossary"),
        Alternative(("военно-техническое", "сотрудничество"), "ru", 0.25, "glossary"),
        Alternative(("dran",), None, 1.5, "names"),
    ))
    query = compile_query(word)
    assert isinstance(query, wq.DisjunctionMax)
    literal, one_word, two_words, name = query.subqueries
    assert literal == compiled("drone")
    assert one_word == wq.Term(BODY, "беспилотник", boost=0.75)
    assert isinstance(two_words, wq.And) and two_words.boost == 0.25  # every word of a multi-word translation
    assert name == wq.Term(NAMES, "dran", boost=1.5)


def test_a_phrase_with_no_literal_matches_through_its_translations_only() -> None:
    phrase = Expanded("air defense", None, (Alternative(("ПВО",), "ru", 1.0, "glossary"),))
    assert compile_query(phrase) == wq.Term(BODY, "пво")
