"""vectors.pieces: a query's tokens are exactly the ones the sentencepiece library gives the
passages they are compared with, whether lattice.c or Python searches the lattice."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from functools import cache

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from search.files import is_mapped
from search.vectors import pieces, tokenizer

from ..conftest import CORPORA

ODD = [
    "", " ", "   two   spaces  ", "\t\n\r", "x" * 300, "-" * 40, "Ё ё Й й ѣ ї",
    "<s> hello </s> <unk>",  # control and unknown pieces are never matched in text
    "extra_token_id_1extra_token_id_2 extra_token_id_3",  # user-defined pieces
    "😀", "a😀b😀😀c 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",  # a run of unknown characters is one token
    "ﬁne Ⅻ ① ｆｕｌｌｗｉｄｔｈ ＡＢＣ",  # normalised (NFKC) first
    "汉字漢字かなカナ한국어 ไทย العربية עברית", "e\u0301 a\u0308 ּ ٌ", "Rosoboronexport «Рособоронэкспорта»",
    "www.example.com/path?q=1&x=2 user@mail.ru +7 (495) 123-45-67 3.14159 1,000,000",
]


def _library(text: str) -> list[int]:
    return tokenizer.tokenizer().encode(text, out_type=int, add_bos=True, add_eos=True)


@pytest.fixture(params=["lattice.c", "python"])
def tokens(request: pytest.FixtureRequest) -> pieces.Pieces:
    """The query tokenizer, its lattice searched by the compiled library or in Python."""
    compiled = request.param == "lattice.c"
    if compiled and pieces._library() is None:
        pytest.skip("lattice.c is not built here")
    found = pieces.Pieces(pieces._arrays(), compiled=compiled)
    assert found.compiled == compiled
    return found


@cache
def _both() -> list[pieces.Pieces]:
    """The tokenizer searching in Python, and with lattice.c where it was built."""
    return [pieces.Pieces(pieces._arrays(), compiled=compiled)
            for compiled in (False, True) if not compiled or pieces._library() is not None]


def test_the_compiled_library_is_what_queries_use_where_it_was_built() -> None:
    assert pieces.pieces().compiled == (pieces._library() is not None)


def test_news_in_both_languages_and_questions_get_the_librarys_tokens(tokens: pieces.Pieces) -> None:
    rng = random.Random(5)
    lines = []
    for name in ("newstest2019-enru.en", "newstest2019-enru.ru", "newstest2017.en", "newstest2017.ru"):
        found = (CORPORA / "wmt-news-en-ru" / name).read_text(encoding="utf-8").splitlines()
        lines += rng.sample(found, 150)
    for lang in ("en", "ru"):
        data = json.loads((CORPORA / "xquad-r-en-ru" / f"{lang}.json").read_text(encoding="utf-8"))
        questions = [qa["question"] for article in data["data"] for p in article["paragraphs"] for qa in p["qas"]]
        lines += rng.sample(questions, 150)
    assert [tokens.encode(line) for line in lines] == [_library(line) for line in lines]


def test_odd_text_gets_the_librarys_tokens(tokens: pieces.Pieces) -> None:
    for text in ODD:
        assert tokens.encode(text) == _library(text), text
    assert tokens.encode("😀😀😀").count(0) == 1  # one unknown token (after the word-start piece): a run merged


def test_runs_of_one_character_split_as_the_librarys_do(tokens: pieces.Pieces) -> None:
    """Many segmentations of such a run score the same; the library's single precision picks one."""
    for text in (character * length for character in "=-*.0" for length in range(1, 121)):
        assert tokens.encode(text) == _library(text), text


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("aeoxz AEZ.,-'ёжзщъыэюяЁЖ1234567890 \t\u00a0ﬁ①😀汉\u0301")), max_size=60))
def test_any_mix_of_scripts_digits_spaces_and_unknown_characters_gets_the_librarys_tokens(text: str) -> None:
    assert [tokens.encode(text) for tokens in _both()] == [_library(text)] * len(_both())


def test_the_pieces_are_compiled_once_per_machine_and_mapped(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    arrays = pieces._arrays()
    assert is_mapped(arrays["crc"])
    assert len(list(tmp_path.rglob("crc.npy"))) == 1
    fresh = pieces.Pieces(arrays)
    assert fresh.encode("Члены Национальной ассамблеи Уэльса") == _library("Члены Национальной ассамблеи Уэльса")


@pytest.mark.parametrize("source", ["", "long lattice_version(void) { return 1; }"])
def test_a_library_built_from_an_older_lattice_c_is_not_called(source: str, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A checkout updated without ``pip install -e .`` keeps a library whose function takes other
    arguments (one without ``lattice_version``, or of another version): the search is then Python's."""
    if shutil.which("cc") is None:
        pytest.skip("no C compiler to build an older library with")
    (tmp_path / "old.c").write_text(f"long lattice_segment(void) {{ return 0; }}\n{source}\n")
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(tmp_path / "old.so"), str(tmp_path / "old.c")], check=True)
    monkeypatch.setattr(pieces, "compiled", lambda *_: str(tmp_path / "old.so"))
    pieces._library.cache_clear()
    try:
        assert pieces._library() is None
        assert not pieces.Pieces(pieces._arrays()).compiled
    finally:
        pieces._library.cache_clear()
