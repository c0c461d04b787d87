"""A Dask cluster's workers behind the same Executor interface as ``local``'s.

``search index --cluster tcp://HOST:PORT`` sends the text phase's reading (OCR
included) and analysis and the vector and deep phases to the workers of a running
``dask scheduler``; ``local:N`` starts N worker processes of Dask's on this machine
(to try it, and to test it). Tasks carry files as their bytes (a file over
``indexer.SENT_BYTES`` as its text, read by the calling process) and texts to
encode, and return a segment's files and vectors as data, so workers need not see
the files or the index, and a task lost with its worker is simply run again on
another: only the calling process writes the index.

What ``local`` does once in each worker process (load a model, one engine thread)
happens here on a worker's first task of each kind, so a worker that joins or
restarts mid-phase is set up like the others.
"""

from __future__ import annotations

import ctypes
import logging
import os
import re
import socket
import sys
from concurrent.futures import Executor, Future
from typing import Any, Callable

from ..errors import InputError

CONNECT_SECONDS = 10.0
"""How long to try to reach a scheduler (and, once reached, to wait for its first worker)."""
ADDRESS = re.compile(r"tcp://(?P<host>[^:/\s]+):(?P<port>\d+)")
LOCAL = re.compile(r"local:(?P<workers>\d+)")
TASK_SCALE = 4
"""A vector task on a cluster carries this many times a local one's texts: each task costs a round
trip through the scheduler and the worker's event loop, some 6 ms of CPU on this 2-core machine
(bench/cluster.py: 64 sentence-encoder texts a task ran at 0.85-0.90 of the local pool, 256 at
0.96-1.0; 1,024 left workers idle at the end of each chunk of passages)."""

_DATA_IN_TASKS = {"distributed.admin.large-graph-warning-threshold": sys.maxsize}
"""Dask warns of every task over 10 MB, advising to load the data on the workers. Ours carry their
data by design: the workers need not see the files, and a task lost with its worker runs again
from what it carries (data scattered to a worker would be lost with it)."""

_started_here: set[str] = set()
"""In a worker process: the set-up functions that have run there."""
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 64 << 20
"""glibc's largest dynamic thresholds on 64 bits: what a process settles at with no MALLOC_ variable set."""


class Cluster:
    """A connection to a Dask cluster (or a local one it started) for one indexing run."""

    def __init__(self, client: Any, local: Any = None) -> None:
        self.client, self._local = client, local

    @property
    def workers(self) -> int:
        """The tasks the cluster runs at once (its workers' threads), at least 1."""
        return max(1, sum(self.client.nthreads().values()))

    def executor(self, start: Callable[[], object] | None = None) -> Executor:
        """An Executor on the cluster's workers; ``start`` runs once in each worker process before
        its first task from this executor."""
        return _Tasks(self.client, start)

    def close(self) -> None:
        self.client.close()
        if self._local is not None:
            self._local.close()

    def __enter__(self) -> "Cluster":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(address: str, timeout: float = CONNECT_SECONDS) -> Cluster:
    """``tcp://HOST:PORT``: a running scheduler's; ``local:N``: N worker processes started here.

    Raises InputError for a bad address, a scheduler that does not answer within ``timeout``
    or has no worker, and when Dask's ``distributed`` is not installed."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise InputError("--cluster needs Dask's distributed package: pip install 'search[cluster]'") from None
    local = LOCAL.fullmatch(address)
    if local:
        count = int(local["workers"])
        if count < 1:
            raise InputError(f"--cluster {address}: local:N needs at least one worker")
        logging.getLogger("distributed").setLevel(logging.ERROR)  # its scheduler and nannies run here
        started = LocalCluster(n_workers=count, threads_per_worker=1, processes=True, dashboard_address=None,
                               scheduler_kwargs={"dashboard": False}, silence_logs=logging.ERROR)
        return Cluster(Client(started), started)
    remote = ADDRESS.fullmatch(address)
    if not remote:
        raise InputError(f"--cluster: expected tcp://HOST:PORT or local:N, not {address!r}")
    where = f"{remote['host']}:{remote['port']}"
    try:  # a refused connection is final: Dask's client would retry it until the timeout
        socket.create_connection((remote["host"], int(remote["port"])), timeout=timeout).close()
        client = Client(address, timeout=timeout)
    except (OSError, TimeoutError) as error:
        raise InputError(f"cannot reach the cluster at {where}: {error}") from None
    except Exception as error:  # something answered that speaks no Dask (a proxy's garbage as a frame size)
        raise InputError(f"cannot reach the cluster at {where}: no Dask scheduler answers there "
                         f"({type(error).__name__})") from None
    try:
        client.wait_for_workers(1, timeout=timeout)
    except (OSError, TimeoutError):
        client.close()
        raise InputError(f"the cluster at {where} has no worker (start one with: dask worker {address})") from None
    return Cluster(client)


class _Tasks(Executor):
    """Dask's ClientExecutor, with a set-up function run before a worker's first task, and the
    ``cancel_futures`` of shutdown that ``local.stop`` uses."""

    def __init__(self, client: Any, start: Callable[[], object] | None) -> None:
        self._pool, self._start = client.get_executor(pure=False), start

    def submit(self, fn, /, *args, **kwargs) -> Future:  # type: ignore[no-untyped-def, override]
        from dask import config

        with config.set(_DATA_IN_TASKS):
            return self._pool.submit(_run, self._start, fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._pool.shutdown(wait=wait and not cancel_futures)


def _run(start: Callable[[], object] | None, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """In a worker: the allocator's thresholds and ``start``, each once per process, then the task."""
    for setup in (_undo_trim_threshold, start):
        if setup is not None:
            name = f"{setup.__module__}.{setup.__qualname__}"
            if name not in _started_here:
                setup()
                _started_here.add(name)
    return fn(*args, **kwargs)


def _undo_trim_threshold() -> None:
    """Give a worker glibc's default allocator thresholds back.

    Dask's nanny starts each worker with ``MALLOC_TRIM_THRESHOLD_=65536`` (so that freed memory goes
    back to the system). Setting it also pins glibc's mmap threshold at 128 KB, so every numpy
    temporary of the encoders becomes a fresh mapping, zeroed page by page: the sentence encoder ran
    1.6-2.3x slower per line under that variable alone, and as fast as without it after this call
    (600 WMT lines, one thread). A worker started otherwise is left alone."""
    if "MALLOC_TRIM_THRESHOLD_" not in os.environ:
        return
    try:
        mallopt = ctypes.CDLL(None).mallopt  # glibc's; another C library may lack it
    except (AttributeError, OSError):
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's <malloc.h>
    mallopt(m_mmap_threshold, MMAP_THRESHOLD)
    mallopt(m_trim_threshold, TRIM_THRESHOLD)
