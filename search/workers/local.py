"""Worker processes behind the standard ``concurrent.futures.Executor`` interface.

Indexing hands out self-contained tasks (files -> a new segment; texts ->
vectors) and takes their results in order, so whatever runs an Executor can run
them: the local processes here, or, when a collection outgrows one machine, a
cluster's (Dask's ``Client.get_executor()``, Ray's). Small jobs run in this
process instead: starting workers would cost more than it saves.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
from collections import deque
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
R = TypeVar("R")
_PR_SET_PDEATHSIG = 1


class InProcess(Executor):
    """Runs each task here, when it is submitted."""

    def submit(self, fn, /, *args, **kwargs) -> Future:  # type: ignore[no-untyped-def, override]
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:
            future.set_exception(error)
        return future


def executor(workers: int, lock_descriptor: int | None, start: Callable[[], object] | None = None) -> Executor:
    """``workers`` forked processes (they start with this process's imports), or this process for one.

    ``lock_descriptor``: the index lock this process holds, which workers must not keep;
    ``start``: run once in each worker (to load a model).
    """
    if workers <= 1:
        return InProcess()
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"),
                               initializer=_worker, initargs=(os.getpid(), lock_descriptor, start))


def _worker(parent: int, lock_descriptor: int | None, start: Callable[[], object] | None) -> None:
    """In a new worker: let go of the index lock (the main process holds it), die with the main
    process (a killed run leaves no worker writing), leave Ctrl-C to it, then ``start``."""
    if lock_descriptor is not None:
        os.close(lock_descriptor)  # the lock is released once the main process's copy is closed
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux: an orphaned worker finishes its task, which nobody commits
    if os.getppid() != parent:
        os._exit(1)  # the main process died before we could ask to die with it
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if start is not None:
        start()


def ordered(pool: Executor, fn: Callable[[T], R], items: Iterable[T], ahead: int) -> Iterator[R]:
    """fn(item) for each item, in order, with up to ``ahead`` items submitted before they are needed."""
    pending: deque[Future] = deque()
    for item in items:
        pending.append(pool.submit(fn, item))
        if len(pending) > ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def stop(pool: Executor) -> None:
    """Stop the workers at once (Ctrl-C): what they were doing is not committed, and is redone."""
    if isinstance(pool, ProcessPoolExecutor):
        processes = getattr(pool, "_processes", None) or {}  # ProcessPoolExecutor has no public way
        for process in list(processes.values()):
            process.terminate()
    pool.shutdown(wait=False, cancel_futures=True)


def cores() -> int:
    """The processors this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1
