"""Passages: paragraphs, long ones cut into windows of whole sentences, with true offsets."""

import json

import pytest

from search.ingest.passages import MAX_CHARS, MAX_SENTENCES, split_passages
from search.ingest.sources import decode

from ..conftest import CORPORA, SEEDS


@pytest.mark.parametrize("path", sorted(SEEDS.iterdir()), ids=lambda p: p.name[:3])
def test_offsets_point_at_the_passage_text(path) -> None:
    text, _ = decode(path.read_bytes())
    passages = split_passages(text)
    assert passages
    for number, passage in enumerate(passages):
        assert passage.number == number
        assert text[passage.start:passage.end] == passage.text
        assert passage.text == passage.text.strip()


def test_passages_follow_each_other_without_overlap() -> None:
    text = (SEEDS / "001_399d7cb0cae35880.txt").read_text(encoding="utf-8")
    passages = split_passages(text)
    assert all(a.end <= b.start for a, b in zip(passages, passages[1:]))


def test_paragraphs_are_passages() -> None:
    text = "First paragraph here.\n\nSecond one, two sentences. Yes.\n\n\n"
    assert [p.text for p in split_passages(text)] == ["First paragraph here.", "Second one, two sentences. Yes."]


def test_long_paragraphs_are_cut_into_whole_sentence_windows() -> None:
    data = json.loads((CORPORA / "xquad-r-en-ru" / "ru.json").read_text(encoding="utf-8"))
    paragraph = next(p for a in data["data"] for p in a["paragraphs"] if len(p["context"]) > 2 * MAX_CHARS)
    text = paragraph["context"].lstrip("\ufeff")
    passages = split_passages(text)
    assert len(passages) >= 2
    for passage in passages:
        assert len(passage.text) <= MAX_CHARS or passage.text.count(". ") == 0
        assert passage.text.count(". ") < MAX_SENTENCES
        assert passage.text[-1] in '.!?»"”)]', passage.text[-30:]
    assert " ".join(p.text for p in passages).split() == text.split()


def test_language_is_detected_per_passage() -> None:
    text = (SEEDS / "002_ee52442a67b35ebb.txt").read_text(encoding="utf-8")
    langs = [p.lang for p in split_passages(text)]
    assert langs.count("ru") > 5
    assert "en" in langs  # the photo credit line "Chen Jimin/China News Service/VC/ТАСС"


def test_text_without_words_gives_no_passage() -> None:
    assert split_passages("") == []
    assert split_passages("\n\n  ---  \n\n***") == []
