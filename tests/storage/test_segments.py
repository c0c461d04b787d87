"""A segment built from arrays holds what whoosh's own writer would write for the same records."""

from pathlib import Path

import numpy as np
import pytest
from whoosh import index as whoosh_index
from whoosh import query as wq
from whoosh.filedb.filestore import FileStorage
from whoosh.reading import SegmentReader
from whoosh.searching import Searcher

from search.ingest.passages import split_passages
from search.storage.codec import ArrayCodec, ArrayPositions, Postings
from search.storage.schema import (
    BODY,
    EXACT,
    FILE,
    INDEX_NAME,
    KEY,
    KIND,
    LANG,
    NAMES,
    PASSAGE,
    TEXT_FIELDS,
    schema,
)
from search.storage.segments import SegmentBuilder

from ..conftest import SEEDS


def _records() -> list[tuple[dict, dict, str | None]]:
    """The seeds as records: a file record, then its passages."""
    records = []
    for path in sorted(SEEDS.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        records.append(({KEY: path.name, "doc": path.name, "stamp": [1, 2, "sha", "utf-8", 3]},
                        {KIND: FILE, KEY: path.name}, None))
        for passage in split_passages(text):
            records.append(({KEY: path.name, "doc": path.name, "passage": passage.number, "start": passage.start,
                             "end": passage.end, LANG: passage.lang, "text": passage.text},
                            {KIND: PASSAGE, KEY: path.name, LANG: passage.lang}, passage.text))
    return records


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> tuple[SegmentReader, SegmentReader]:
    """The same records, written by the builder and by whoosh's writer (with this codec)."""
    ours_dir, theirs_dir = tmp_path_factory.mktemp("ours"), tmp_path_factory.mktemp("theirs")
    storage = FileStorage(str(ours_dir))
    builder = SegmentBuilder(storage, schema(), ArrayCodec())
    for stored, keywords, text in _records():
        builder.add(stored, keywords, text)
    ours = builder.finish()
    ix = whoosh_index.create_in(str(theirs_dir), schema(), indexname=INDEX_NAME)
    writer = ix.writer(codec=ArrayCodec(), compound=False)
    for stored, keywords, text in _records():
        fields = {**stored, **keywords}
        if text is not None:
            fields.update({name: text for name in TEXT_FIELDS})
        writer.add_document(**fields)
    writer.commit()
    (theirs,) = ix._segments()
    return (SegmentReader(storage, schema(), ours),
            SegmentReader(FileStorage(str(theirs_dir)), ix.schema, theirs))


@pytest.mark.parametrize("field", [BODY, EXACT, NAMES, KIND, KEY, LANG])
def test_every_term_has_the_same_postings(both, field: str) -> None:
    ours, theirs = both
    terms = list(ours.lexicon(field))
    assert terms == list(theirs.lexicon(field)) and terms
    for term in terms:
        a, b = ours._terms.postings(field, term), theirs._terms.postings(field, term)
        assert a.docnums.tolist() == b.docnums.tolist(), term
        assert a.weights.tolist() == b.weights.tolist(), term
        if field == EXACT:
            assert a.counts.tolist() == b.counts.tolist() and a.positions.tolist() == b.positions.tolist(), term
        info_a, info_b = ours.term_info(field, term), theirs.term_info(field, term)
        assert (info_a.min_length(), info_a.max_length(), info_a.max_weight()) == (
            info_b.min_length(), info_b.max_length(), info_b.max_weight()), term


def test_field_lengths_and_stored_fields_are_the_same(both) -> None:
    ours, theirs = both
    assert ours.doc_count_all() == theirs.doc_count_all()
    for field in (BODY, EXACT, NAMES):
        assert ours.field_length(field) == theirs.field_length(field)
        assert np.array_equal(ours._perdoc.field_lengths(field), theirs._perdoc.field_lengths(field))
    for docnum in range(ours.doc_count_all()):
        assert ours.stored_fields(docnum) == theirs.stored_fields(docnum)


def test_phrases_match_through_the_array_positions(both) -> None:
    ours, _ = both
    searcher = Searcher(ours)
    hits = searcher.search(wq.Phrase(EXACT, ["military", "cooperation"]), limit=None)
    assert len(hits) >= 3 and all("military cooperation" in " ".join(hit["text"].lower().split()) for hit in hits)
    assert not searcher.search(wq.Phrase(EXACT, ["cooperation", "military"]), limit=None)


def test_postings_round_trip_through_bytes() -> None:
    postings = Postings(np.array([1, 5, 9], np.uint32), np.array([2, 1, 3], np.float32),
                        np.array([2, 1, 3], np.uint32), np.array([0, 4, 7, 1, 2, 8], np.uint32))
    back = Postings.from_bytes(postings.to_bytes())
    assert back.docnums.tolist() == [1, 5, 9] and back.weights.tolist() == [2.0, 1.0, 3.0]
    assert back.positions.tolist() == [0, 4, 7, 1, 2, 8] and back.counts.tolist() == [2, 1, 3]
    assert ArrayPositions().decode_positions(postings.values(ArrayPositions())[2]) == [1, 2, 8]
    with pytest.raises(ValueError):
        Postings.from_bytes(b"W3Bl" + postings.to_bytes()[4:])


def test_stored_fields_are_json_not_pickles(both) -> None:
    ours, _ = both
    (stored,) = Path(ours._storage.folder).glob("*._stored.col")
    data = stored.read_bytes()
    assert b'"text":"' in data and b"\x80\x02" not in data  # \x80\x02: a protocol-2 pickle


def test_stored_offsets_summed_by_numpy_are_whooshs_own(both) -> None:
    """Where whoosh stored no offsets (a column of fewer than 2**15 records), the reader sums the
    lengths with numpy; whoosh's own reader, summing them in Python, finds the same."""
    from whoosh import columns

    from search.storage.codec import STORED

    ours, _ = both
    colfile, offset, length = ours._perdoc._get_column_file("_stored")
    fast = STORED.reader(colfile, offset, length, ours.doc_count_all())._child
    slow = columns.VarBytesColumn().reader(colfile, offset, length, ours.doc_count_all())
    assert not slow.had_stored_offsets and len(slow._offsets) == ours.doc_count_all() > 1
    assert list(fast._offsets) == list(slow._offsets) and list(fast._lengths) == list(slow._lengths)
    assert [fast[d] for d in range(ours.doc_count_all())] == [slow[d] for d in range(ours.doc_count_all())]
