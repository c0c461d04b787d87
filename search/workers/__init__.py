"""Where the costly phases run: behind the standard ``concurrent.futures.Executor``.

``local`` runs tasks in worker processes on this machine (or in this process, for
small jobs); ``cluster`` on a Dask cluster's workers (``search index --cluster``).
Every phase hands out self-contained tasks and takes their results in order, so
whatever runs an Executor can run them.

May import: search.errors.
"""
