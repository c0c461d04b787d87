"""Query text -> parsed query -> (translated) query -> whoosh query.

``parser`` knows the syntax, ``translate`` adds cross-language alternatives,
``compile`` turns the result into a whoosh query over the indexed fields.
"""
