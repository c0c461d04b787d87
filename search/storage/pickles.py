"""whoosh's pickles, read without running code.

whoosh pickles its table of contents (the schema and the segment list), the
field map of a term index and a few block headers. A pickle may name any
function to call, so an index folder somebody crafted could run code the
moment it is opened. Everything whoosh reads from an index folder goes through
``loads`` here instead: it admits plain data and the classes a schema and a
segment list are made of, and refuses everything else. (This package's own
codec writes no pickles: postings are arrays, stored fields JSON.)
"""

from __future__ import annotations

import builtins
import io
import pickle
from typing import IO, Any

from whoosh import columns, formats
from whoosh.codec import whoosh3
from whoosh.filedb.structfile import StructFile

_BUILTINS = frozenset({"set", "frozenset", "list", "dict", "tuple", "int", "float", "complex", "str",
                       "bytes", "bytearray", "bool"})
_CONTAINERS = frozenset({("array", "array"), ("array", "_array_reconstructor"),
                         ("collections", "defaultdict"), ("collections", "OrderedDict")})
"""Containers of plain data (a defaultdict's factory is looked up through this unpickler too)."""
_CLASS_MODULES = ("whoosh.fields", "whoosh.formats", "whoosh.analysis.", "whoosh.codec.",
                  "search.storage.codec", "search.storage.schema")
"""Modules whose classes (never functions) a schema or a segment list may hold."""
_MOVED = {"search.codec": "search.storage.codec", "search.schema": "search.storage.schema"}
"""Where the classes that older indexes' pickles name live now (those modules moved into
``search.storage``): an index built before the move opens as it did."""


class Refused(pickle.UnpicklingError):
    """A pickle named something that is not plain data nor part of an index's schema."""


class _Restricted(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        module = _MOVED.get(module, module)
        if module == "builtins" and name in _BUILTINS:
            return getattr(builtins, name)
        if (module, name) in _CONTAINERS:
            return super().find_class(module, name)
        if module.startswith(_CLASS_MODULES) or module in _CLASS_MODULES:
            found = super().find_class(module, name)
            if isinstance(found, type):
                return found
        raise Refused(f"refused to load {module}.{name}")


def load(file: IO[bytes]) -> Any:
    """Unpickle from a file, admitting only what an index's own pickles hold."""
    return _Restricted(file).load()


def loads(data: bytes) -> Any:
    """Unpickle bytes, admitting only what an index's own pickles hold."""
    return load(io.BytesIO(data))


def _read_pickle(self: StructFile) -> Any:
    return load(self.file)


# whoosh's readers unpickle through these names; they now use the restricted loader.
StructFile.read_pickle = _read_pickle  # type: ignore[method-assign]
whoosh3.loads = loads  # type: ignore[attr-defined]
columns.loads = loads  # type: ignore[attr-defined]
formats.loads = loads  # type: ignore[attr-defined]
