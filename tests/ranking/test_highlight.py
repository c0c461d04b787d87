"""Highlighting marks the words of a hit that are indexed as one of the query's terms."""

from search.ranking.highlight import Highlighter
from search.storage.schema import BODY, EXACT, NAMES

TEXT = "Рособоронэкспорта и Russia-China: военно-технического сотрудничества, поставки в Москву."


def marked(text: str, *terms: tuple[str, str]) -> list[str]:
    return [text[start:end] for start, end in Highlighter(terms).spans(text)]


def test_a_lemma_marks_every_form_of_its_word() -> None:
    assert marked(TEXT, (BODY, "поставка")) == ["поставки"]
    assert marked("supplies supplied supplying", (BODY, "suppli")) == ["supplies", "supplied", "supplying"]


def test_an_exact_form_marks_that_form_only() -> None:
    assert marked("поставки и поставка", (EXACT, "поставка")) == ["поставка"]


def test_a_name_key_marks_the_name_in_either_script() -> None:
    assert marked(TEXT, (NAMES, "rasabaranikspart")) == ["Рособоронэкспорта"]
    assert marked("Rosoboronexport and Moscow", (NAMES, "maskv")) == []  # keys differ by ending
    assert marked("Moscow, Москву", (NAMES, "maskav")) == ["Moscow"]


def test_a_hyphenated_word_is_marked_whole_or_part_by_part() -> None:
    assert marked(TEXT, (BODY, "военно-технический")) == ["военно-технического"]
    assert marked(TEXT, (BODY, "технический")) == ["технического"]
    assert marked(TEXT, (EXACT, "china")) == ["China"]
    assert marked(TEXT, (EXACT, "russia-china"), (EXACT, "china")) == ["Russia-China"]


def test_spans_are_in_order_and_words_without_a_term_are_left() -> None:
    highlighter = Highlighter([(BODY, "поставка"), (NAMES, "rasabaranikspart"), (BODY, "unrelated")])
    spans = highlighter.spans(TEXT)
    assert [TEXT[s:e] for s, e in spans] == ["Рособоронэкспорта", "поставки"]
    assert spans == sorted(spans)
    assert highlighter.spans(TEXT) == spans  # a hit met again: decided once, the same spans
    assert Highlighter([]).spans(TEXT) == [] and highlighter.spans("") == []


def test_hits_prepared_together_are_marked_as_each_alone(monkeypatch) -> None:
    """A query's hits' words are decided together, their terms read in one pass; each hit's
    spans are then those it has alone, and no word is read again."""
    from search import analysis
    from search.ranking import highlight

    texts = [TEXT, "Москва и Рособоронэкспорт: поставки зенитных систем", "Russia-China supplies, Moscow"]
    terms = [(BODY, "поставка"), (NAMES, "rasabaranikspart"), (EXACT, "china"), (NAMES, "maskav")]
    alone = [Highlighter(terms).spans(text) for text in texts]
    asked: list[list[str]] = []
    monkeypatch.setattr(highlight, "words_terms", lambda words: asked.append(list(words)) or analysis.words_terms(words))
    together = Highlighter(terms)
    together.prepare(texts)
    assert len(asked) == 1 and {"Рособоронэкспорта", "Russia-China", "Russia", "China", "Moscow"} <= set(asked[0])
    assert [together.spans(text) for text in texts] == alone and len(asked) == 1
    assert [TEXT[s:e] for s, e in alone[0]] == ["Рособоронэкспорта", "China", "поставки"]
