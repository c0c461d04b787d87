"""Where the costly phases run: behind the standard ``concurrent.futures.Executor``.

``local`` runs tasks in worker processes on this machine (or in this process, for
small jobs). Every phase hands out self-contained tasks and takes their results in
order, so whatever runs an Executor can run them.

May import: nothing else of search.
"""
