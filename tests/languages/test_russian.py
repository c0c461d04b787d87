"""Russian lemmas: every normal form pymorphy3 offers, and kept per machine once found."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from search import Index
from search.files import FrozenTable, mapped
from search.languages import russian


def test_every_normal_form_comes_folded_most_probable_first() -> None:
    assert russian.lemmas("Организации") == ("организация",)
    assert russian.lemmas("стали")[:2] == ("стать", "сталь")
    assert russian.lemmas("ёлки") == ("елка",)
    assert russian.lemmas("военно-технического") == ("военно-технический",)


def test_a_word_with_a_letter_unicodedata_cannot_name_is_its_own_lemma() -> None:
    """pymorphy3 asks every letter's Unicode name, and Tangut ideographs have none in Python's table
    (a query typed in the wrong layout made «𗀀ё» of «𗀀`»)."""
    assert russian.lemmas("𗀀ё") == ("𗀀е",)  # folded, as every lemma
    assert not russian.is_known("по-𗀀ому") and not russian.is_participle("𗀀ё")


@pytest.fixture()
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache folder for the machine, and this process's memo of lemmas empty."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    _forget()
    monkeypatch.setattr(russian, "_fresh", {})
    monkeypatch.setattr(russian, "_unnoted", False)
    yield tmp_path
    _forget()


def _forget() -> None:
    """As a new process: no lemma memoised."""
    russian.lemmas.cache_clear()
    russian._analysed.cache_clear()


def _analyser_gone(monkeypatch: pytest.MonkeyPatch) -> None:
    """From here on, a lemma pymorphy3 would have to find fails the test."""
    _forget()

    def unavailable() -> None:
        raise AssertionError("pymorphy3 was asked")
    monkeypatch.setattr(russian, "_morph", unavailable)


def test_kept_lemmas_are_read_back_without_pymorphy3(own_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    words = ["Рособоронэкспорта", "переговорах", "стали", "прений"]
    with russian.analysed_afresh():  # as the indexer does
        found = [russian.lemmas(word) for word in words]
    assert list(own_cache.rglob("lemmas-*.sqlite"))
    _analyser_gone(monkeypatch)
    assert [russian.lemmas(word) for word in words] == found
    # A translation by a vocabulary neighbour is a lemma, and a query asks for its lemmas too.
    assert russian.lemmas("прение") == ("прение",)


def test_the_kept_lemmas_are_laid_out_for_queries_once_kept(own_cache: Path) -> None:
    with russian.analysed_afresh():
        russian.lemmas("договорах")
    with russian.analysed_afresh():
        russian.lemmas("переговорах")
        russian.freeze_kept()  # a lexicon compiled while indexing: its lemmas are not kept yet
        assert not list(own_cache.rglob("*.frozen.npy"))
    russian.freeze_kept()
    (frozen,) = own_cache.rglob("lemmas-*.sqlite.frozen.npy")
    assert FrozenTable(mapped(frozen)).get("переговорах") == "переговоры"


def test_an_indexer_analyses_afresh_and_keeps_what_it_found(own_cache: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    with russian.analysed_afresh():
        russian.lemmas("Рособоронэкспорта")
    _forget()
    asked = []
    analyser = russian._morph()
    monkeypatch.setattr(russian, "_morph", lambda: asked.append(1) or analyser)
    with russian.analysed_afresh():
        assert russian.lemmas("Рособоронэкспорта") == ("рособоронэкспорт",)
        assert asked  # pymorphy3 analysed it, though the machine kept it
        with russian.analysed_afresh():  # nested (the lexicon compiled during indexing): kept at the end
            russian.lemmas("переговорах")
        assert russian._fresh
    _analyser_gone(monkeypatch)
    assert russian.lemmas("переговорах") == ("переговоры",)  # kept when the indexer was done


def test_a_word_a_query_analysed_first_is_kept_when_the_same_process_indexes_it(
        own_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A server or script queries, then indexes: the query's memo must not hide the word from the
    indexer's record (the suite's collection did this, and a later query loaded pymorphy3)."""
    assert russian.lemmas("противовоздушная") == ("противовоздушный",)  # a query's, not kept
    with russian.analysed_afresh():
        assert russian.lemmas("противовоздушная") == ("противовоздушный",)
    _analyser_gone(monkeypatch)
    assert russian.lemmas("противовоздушная") == ("противовоздушный",)


def test_a_query_analyses_a_word_the_machine_lacks_and_keeps_nothing(own_cache: Path) -> None:
    assert russian.lemmas("переговорах") == ("переговоры",)
    _forget()
    assert russian.lemmas("переговорах") == ("переговоры",)
    assert not list(own_cache.rglob("lemmas-*.sqlite")) and not russian._fresh


def test_a_damaged_cache_of_lemmas_is_started_afresh(own_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with russian.analysed_afresh():
        russian.lemmas("договорах")
    russian.freeze_kept()  # as an indexing run does at its end
    kept = next(own_cache.rglob("lemmas-*.sqlite"))
    frozen = next(own_cache.rglob("lemmas-*.sqlite.frozen.npy"))  # what queries read first
    kept.write_bytes(b"not a database" * 100)
    frozen.write_bytes(frozen.read_bytes()[:-7])
    _forget()
    russian._kept_in.cache_clear()  # another process, opening them now
    assert russian.lemmas("договорах") == ("договор",)  # from pymorphy3 again
    assert not kept.exists()  # the damaged file is gone
    _forget()
    with russian.analysed_afresh():  # and the next indexing run keeps the lemmas afresh
        russian.lemmas("договорах")
    _analyser_gone(monkeypatch)
    russian._kept_in.cache_clear()
    assert russian.lemmas("договорах") == ("договор",)


def test_a_cache_folder_that_cannot_be_written_only_costs_the_analysis(
        own_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocked = own_cache / "a-file"
    blocked.write_text("the cache folder would be below this file")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    with russian.analysed_afresh():
        assert russian.lemmas("договорах") == ("договор",)
    # nothing kept, and no error
    _forget()
    assert russian.lemmas("договорах") == ("договор",)


QUERY = """
import sys
from search import Index
from search.files import FrozenTable, mapped
with Index.open(sys.argv[1]) as index:
    hits = index.search(sys.argv[2], lang="ru").hits
print(len(hits), "pymorphy3" in sys.modules, "rapidfuzz" in sys.modules)
"""


def test_a_query_whose_words_the_machine_keeps_never_loads_pymorphy3(seeds_index: Index) -> None:
    """The indexer kept the lemmas of every word it read, the lexicon those of its translations:
    an English query's Russian hits, translations and neighbours are all among them."""
    done = subprocess.run([sys.executable, "-c", QUERY, str(seeds_index.store.path), "air defence systems"],
                          capture_output=True, text=True, check=True)
    hits, morphology, fuzzy = done.stdout.split()
    assert int(hits) > 0
    assert (morphology, fuzzy) == ("False", "False")
