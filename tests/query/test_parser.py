"""The query syntax: forgiving, never raises, whatever the user types."""

from hypothesis import given, settings
from hypothesis import strategies as st

from search.query.parser import And, Not, Or, Phrase, Term, parse


def test_plain_words_are_alternatives() -> None:
    assert parse("air defense").root == Or((Term("air"), Term("defense")))


def test_operators_and_grouping() -> None:
    assert parse("a b AND c").root == Or((Term("a"), And((Term("b"), Term("c")))))
    assert parse("(a OR b) AND c").root == And((Or((Term("a"), Term("b"))), Term("c")))
    assert parse("a NOT b").root == Or((Term("a"), Not(Term("b"))))
    assert parse("a -b").root == Or((Term("a"), Not(Term("b"))))


def test_phrases_exact_words_prefixes_and_language_filter() -> None:
    assert parse('"military cooperation"').root == Phrase("military cooperation")
    assert parse("=Россия").root == Term("Россия", exact=True)
    assert parse("licen*").root == Term("licen", prefix=True)
    parsed = parse("lang:ru оборона")
    assert (parsed.root, parsed.lang) == (Term("оборона"), "ru")


def test_broken_syntax_is_repaired() -> None:
    assert parse('"air defense').root == Or((Term("air"), Term("defense")))  # a lone quote is punctuation
    assert parse("(a OR b").root == Or((Term("a"), Term("b")))
    assert parse("a ) b").root == Or((Term("a"), Term("b")))
    assert parse("a AND").root == Term("a")
    assert parse("NOT NOT a").root == Term("a")


def test_nothing_to_search_for_is_an_empty_query() -> None:
    for text in ["", "   ", "AND", "NOT", "OR OR", "*", '""', "((((", "-", "lang:ru"]:
        assert parse(text).root is None, text


def test_deep_nesting_cannot_exhaust_the_stack() -> None:
    assert parse("(" * 5000 + "a" + ")" * 5000).root == Term("a")
    assert parse("NOT " * 5001 + "a").root == Not(Term("a"))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200)
       | st.lists(st.sampled_from(['"', "(", ")", "AND", "OR", "NOT", "-", "*", "=", "a", "ж", " ", "lang:", ":"]),
                  max_size=40).map("".join))
def test_any_text_parses(text: str) -> None:
    parsed = parse(text)
    assert parsed.root is None or isinstance(parsed.root, (Term, Phrase, And, Or, Not))


def test_only_ascii_quotes_make_a_phrase() -> None:
    """Russian text quotes names in «…»: a question copied from it stays natural language."""
    assert parse("«военное сотрудничество» Китай").root == Or(
        (Term("военное"), Term("сотрудничество"), Term("Китай")))
    assert parse("“military cooperation”").natural
    assert isinstance(parse('"military cooperation"').root, Phrase)


def test_the_parsed_query_knows_its_words_content_words_and_filter() -> None:
    parsed = parse("lang:ru What did Russia-China talks agree? -Putin")
    assert parsed.lang == "ru"
    assert parsed.words == ("What", "did", "Russia", "China", "talks", "agree")
    assert parsed.content_words == ("Russia", "China", "talks", "agree")
    assert parsed.text == "What did Russia China talks agree"
    assert not parsed.natural  # the negation is an operator
    assert parse("What did Russia-China talks agree?").natural


def test_a_question_that_quotes_a_title_is_still_natural_language() -> None:
    """Its words are translated and its vectors fused; the phrase itself matches exactly."""
    assert parse('Who wrote "War and Peace" and when?').natural
    assert not parse('"War and Peace"').natural  # a phrase alone asks for exactly that
    assert not parse('"War and Peace" AND Tolstoy').natural


def test_a_quote_without_its_pair_is_punctuation() -> None:
    """A fragment copied from a quotation is no phrase."""
    assert parse('"We now have mice').root == parse("We now have mice").root
    assert isinstance(parse('"air defense" and "more').root.items[0], Phrase)


def test_a_language_filter_in_the_query_leaves_the_rest_as_it_was() -> None:
    filtered, plain = parse("lang:ru China Russia"), parse("China Russia")
    assert (filtered.root, filtered.words, filtered.natural) == (plain.root, plain.words, plain.natural)
