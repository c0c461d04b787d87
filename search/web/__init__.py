"""The web layer: ``search serve``, pages and a JSON API over the Python API, as thin as the CLI.

``app`` is the Starlette application (the search page, a document view, stats, and
``/api/search`` and ``/api/stats`` answering with the CLI's JSON), ``documents`` reads an
indexed document whole from a snapshot by its identity in the index (never a path from a
request), and ``serve`` runs the application under uvicorn. ``templates`` and ``static``
ship in the package: nothing is fetched from elsewhere, nothing is built.

May import: search.api, search.output, search.searcher, search.snapshot, search.errors, search.storage, search.languages.
"""
