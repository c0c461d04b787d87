"""Exit codes and the errors that map to them, kept in one place (as grep does).

0: at least one hit (or a command succeeded); 1: no hit; 2: bad usage or input,
or any error; 130: interrupted (Ctrl-C). Every error the user can cause is a SearchError with a one-line
message; the CLI prints it and exits with its code, never with a traceback.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    NO_HITS = 1
    ERROR = 2
    INTERRUPTED = 130
    """Ctrl-C, as shells report a process ended by SIGINT (128 + 2)."""


class SearchError(Exception):
    """An error the user can act on; its message is one line."""

    exit_code: ExitCode = ExitCode.ERROR


class InputError(SearchError):
    """A missing path, an unreadable batch file, a bad option value."""


class IndexMissing(SearchError):
    """No index at the given location."""


class IndexBusy(SearchError):
    """Another process holds the index's write lock for longer than we wait."""


class IndexCorrupt(SearchError):
    """The index exists but cannot be read."""


class IndexUnwritable(SearchError):
    """The disk holding the index is full (or read-only): the run stops, its last commit intact."""


class Interrupted(SearchError):
    """Ctrl-C during indexing; the message says what was kept."""

    exit_code = ExitCode.INTERRUPTED
