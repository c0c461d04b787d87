"""e5 (the deep vectors): a query's vector is computed beside the lexical side, each on one core."""

import numpy as np
from threadpoolctl import threadpool_info

from search.vectors import deep


def _blas_threads() -> list[int]:
    return [library["num_threads"] for library in threadpool_info() if library["user_api"] == "blas"]


def test_beside_a_query_numpys_blas_takes_one_thread_and_gets_its_threads_back() -> None:
    np.ones((4, 4)) @ np.ones((4, 4))  # numpy's BLAS is loaded
    before = _blas_threads()
    with deep.beside_query():
        assert _blas_threads() == [1] * len(before)
    assert _blas_threads() == before
