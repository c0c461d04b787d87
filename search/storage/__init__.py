"""Analysed passages -> the index on disk, and back: whoosh's folder with this package's codec.

``schema`` declares the records and their fields, ``codec`` stores postings as plain
arrays and stored fields as JSON, ``segments`` builds a whole segment from analysed
passages, ``store`` locks, commits and reads generations (a commit is a table of
contents renamed into place), ``checksums`` seals each group of files it writes,
``wordsets`` keeps each passage's words as hashes beside its segment (for word alignment), and
``pickles`` reads whoosh's own pickles without running code.

May import: search.analysis, search.languages, search.errors, search.files.
"""
