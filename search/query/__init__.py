"""Query text -> parsed query -> (translated) query -> whoosh query.

``repair`` mends mistyped words, ``parser`` knows the syntax, ``translate`` adds
cross-language alternatives, ``compile`` turns the result into a whoosh query over
the indexed fields.

May import: search.ranking, search.vectors, search.storage, search.analysis, search.languages.
"""
