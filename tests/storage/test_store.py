"""The index folder: one writer, commits that readers see whole, and files read without running code."""

import gc
import io
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from whoosh.codec.whoosh3 import W3TermsReader
from whoosh.filedb.structfile import StructFile
from whoosh.reading import TermNotFound

from search import Index
from search.errors import IndexBusy, IndexCorrupt, IndexMissing
from search.storage.schema import INDEX_NAME
from search.storage.store import MARKER, Store

from ..conftest import SEEDS


@pytest.fixture()
def built(tmp_path: Path, corpus: Path) -> Index:
    index = Index(tmp_path / "ix")
    index.update([str(corpus)], vectors=False)
    return index


def test_a_writer_commits_generation_after_generation_under_one_lock(built: Index) -> None:
    store = built.store
    with store.writer() as writer:
        first = writer.commit()
        with pytest.raises(IndexBusy):
            store.writer(timeout=0)  # the lock is held between commits
        assert writer.commit() == first + 1 == store.generation()
    with store.writer(timeout=0):
        pass  # and released at the end
    assert len(list(store.path.glob("*.toc"))) == 1  # older tables of contents are removed


def test_nothing_is_visible_before_a_commit(built: Index, tmp_path: Path) -> None:
    before = built.stats().documents
    with built.store.writer() as writer:
        writer.delete(str(Path(tmp_path / "docs" / "a.txt").resolve()))
        assert built.stats().documents == before  # readers see the last commit
        writer.commit()
    assert built.stats().documents == before - 1


def test_files_a_killed_run_left_behind_are_removed_by_the_next_writer(built: Index) -> None:
    orphan = built.store.path / f"{INDEX_NAME}_orphan0000000001.pst"
    orphan.write_bytes(b"half a segment")
    vectors = built.store.path / "vectors" / f"{INDEX_NAME}_orphan0000000001.12"
    vectors.mkdir(parents=True)
    with built.store.writer():
        pass
    assert not orphan.exists() and not vectors.exists()
    assert built.search("Alpha").hits


def test_an_index_of_another_format_must_be_rebuilt(built: Index) -> None:
    (built.store.path / MARKER).write_text('{"format": 1}', encoding="utf-8")
    with pytest.raises(IndexCorrupt, match="--rebuild"):
        Index.open(built.store.path).search("Alpha")


def test_no_index_is_index_missing(tmp_path: Path) -> None:
    with pytest.raises(IndexMissing):
        Store(tmp_path / "nothing").read()


class _Payload:
    """What a crafted index folder could hold: a pickle that runs a command when loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return os.system, (f"touch {self.marker}",)


def _crafted_toc(toc: Path, schema_pickle: bytes | None = None, segments_pickle: bytes | None = None) -> None:
    """Rewrite a TOC with one of its pickles replaced (the layout of whoosh's TOC.write)."""
    original = StructFile(io.BytesIO(toc.read_bytes()))
    out = StructFile(io.BytesIO())
    for _ in range(3):
        out.write_varint(original.read_varint())
    out.write_int(original.read_int())
    out.write_int(original.read_int())
    for _ in range(3):
        out.write_varint(original.read_varint())
    schema = original.read_string()
    out.write_string(schema_pickle or schema)
    out.write_int(original.read_int())
    out.write_int(original.read_int())
    segments = original.file.read()
    out.write(segments_pickle or segments)
    toc.write_bytes(out.file.getvalue())


@pytest.mark.parametrize("part", ["schema", "segments"])
def test_a_crafted_table_of_contents_runs_no_code(built: Index, tmp_path: Path, part: str) -> None:
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Payload(marker), 2)
    (toc,) = built.store.path.glob("*.toc")
    _crafted_toc(toc, **{f"{part}_pickle": payload})
    with pytest.raises(IndexCorrupt, match="not a search index, or it was altered"):
        Index.open(built.store.path).search("Alpha")
    assert not marker.exists()


def test_an_index_built_before_its_classes_moved_into_search_storage_opens_as_it_did(
        corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its pickles name search.codec and search.schema, where those classes lived then."""
    from search.storage import codec, schema

    with monkeypatch.context() as then:
        for old, module in (("search.codec", codec), ("search.schema", schema)):
            then.setitem(sys.modules, old, module)
            for value in vars(module).values():
                if isinstance(value, type) and value.__module__ == module.__name__:
                    then.setattr(value, "__module__", old)
        index = Index(tmp_path / "old")
        index.update([str(corpus)], vectors=False)
    (toc,) = index.store.path.glob("*.toc")
    assert b"search.codec" in toc.read_bytes() and b"search.schema" in toc.read_bytes()
    assert b"search.storage" not in toc.read_bytes()
    assert [hit.text for hit in Index.open(index.store.path).search("Alpha").hits] == \
        ["Alpha passage about Rosoboronexport."]


@pytest.mark.parametrize("damage", ["truncate", "garble"])
def test_a_damaged_table_of_contents_is_a_clear_error(built: Index, damage: str) -> None:
    (toc,) = built.store.path.glob("*.toc")
    data = toc.read_bytes()
    toc.write_bytes(data[: len(data) // 2] if damage == "truncate" else data[:20] + b"\x00garbage" * 40)
    with pytest.raises(IndexCorrupt, match="--rebuild"):
        Index.open(built.store.path).stats()


def _contents(folder: Path) -> dict[str, tuple[bytes, int] | None]:
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns) if p.is_file() else None
            for p in sorted(folder.rglob("*"))}


@pytest.fixture()
def read_only_copy(seeds_index: Index, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A copy of the seeds index, bind-mounted read-only where the machine lets us mount (any write
    then fails), else the plain copy (any write then shows as a change)."""
    copy, mounted = tmp_path / "copy", tmp_path / "read-only"
    shutil.copytree(seeds_index.store.path, copy)
    mounted.mkdir()

    def run(*command: str) -> bool:
        try:
            return subprocess.run(command, capture_output=True).returncode == 0
        except OSError:  # no mount command on this machine
            return False

    bound = run("mount", "--bind", str(copy), str(mounted))
    if bound and not run("mount", "-o", "remount,ro,bind", str(mounted)):
        bound = not run("umount", str(mounted))
    try:
        yield mounted if bound else copy
    finally:
        if bound:
            gc.collect()  # the arrays a query mapped from it
            assert run("umount", str(mounted)) or run("umount", "-l", str(mounted))


def test_queries_on_a_read_only_copy_succeed_and_leave_it_byte_identical(read_only_copy: Path) -> None:
    before = _contents(read_only_copy)
    with Index.open(read_only_copy) as index:
        for text in ("Rosoboronexport", "противовоздушная оборона", "military technical cooperation with China",
                     '"military cooperation"', "China NOT Rosoboronexport"):
            assert index.search(text).hits, text
        assert index.stats().vectors == sum(index.stats().passages.values())
    assert _contents(read_only_copy) == before


def test_term_indexes_are_read_through_a_memory_map_with_the_same_bytes(built: Index) -> None:
    store = built.store
    name = next(p.name for p in store.path.glob("*.trm"))
    data = (store.path / name).read_bytes()
    mapped = store.storage.open_file(name)
    try:
        assert mapped.get(0, 16) == data[:16] and mapped.get(len(data) - 8, 8) == data[-8:]
        assert mapped.get_uint(4) == int.from_bytes(data[4:8], "big")  # whoosh's struct reads over it
    finally:
        mapped.close()
    (store.path / "empty.trm").write_bytes(b"")
    assert store.storage.open_file("empty.trm").read() == b""  # nothing to map: read as whoosh does


@pytest.fixture(scope="module")
def with_vectors(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of the seeds with its vectors and vocabulary, built once: tests damage copies. Without
    deep vectors: they are read and refused when damaged by the same loader (``stored.load``) as the
    sentence encoder's vectors damaged here, and leaving them out saves each rebuild the deep phase."""
    work = tmp_path_factory.mktemp("damage")
    shutil.copytree(SEEDS, work / "seeds")
    Index(work / "index").update([str(work / "seeds")], deep=False)
    return work


def test_terms_looked_up_in_the_mapped_term_index_are_whooshs_own(with_vectors: Path) -> None:
    """The term index's hash table read straight from the map gives whoosh's own answers: every
    term's info and document frequency, in every field, and no term where whoosh has none."""
    with Index.open(with_vectors / "index") as index, index.snapshot() as snapshot:
        (leaf,) = snapshot.scorer.leaves
        terms = leaf.terms
        assert terms._map is not None
        checked = 0
        for (field, tbytes), info in terms.items():
            ours = terms.term_info(field, tbytes)
            assert (ours.doc_frequency(), ours.extent(), ours.weight()) == (
                info.doc_frequency(), info.extent(), info.weight()), (field, tbytes)
            assert terms.doc_frequency(field, tbytes) == W3TermsReader.doc_frequency(terms, field, tbytes)
            checked += 1
        assert checked > 1000
        for field, tbytes in (("body", "нету-such".encode()), ("exact", b""), ("nofield", b"moscow")):
            assert terms._find(field, tbytes) is None
            with pytest.raises(TermNotFound):
                terms.term_info(field, tbytes)
            with pytest.raises(KeyError):
                terms.doc_frequency(field, tbytes)

def _damaged_copy(with_vectors: Path, tmp_path: Path, pattern: str, damage: str) -> Path:
    """A copy of the index (times kept) with the first file matching ``pattern`` damaged."""
    copy = tmp_path / "index"
    shutil.copytree(with_vectors / "index", copy)
    target = sorted(copy.glob(pattern))[0]
    data = target.read_bytes()
    middle = len(data) // 2
    target.write_bytes(data[:middle] if damage == "truncate" else
                       data[:middle] + bytes(b ^ 0x5A for b in data[middle:middle + 16]) + data[middle + 16:])
    return copy


TEXT_FILES = ["_passages_*.toc", "passages_*.trm", "passages_*.pst", "passages_*._stored.col",
              "passages_*._body_len.col", "passages_*.checksums.json", MARKER]


@pytest.mark.parametrize("damage", ["truncate", "garble"])
@pytest.mark.parametrize("pattern", TEXT_FILES)
def test_a_damaged_text_index_file_is_a_clear_error_until_rebuilt(with_vectors: Path, tmp_path: Path,
                                                                  pattern: str, damage: str) -> None:
    copy = _damaged_copy(with_vectors, tmp_path, pattern, damage)
    for read in (lambda ix: ix.search("Rosoboronexport"), lambda ix: ix.stats()):
        with pytest.raises(IndexCorrupt) as error:
            read(Index(copy))
        assert str(copy) in str(error.value) and "--rebuild" in str(error.value)
    with pytest.raises(IndexCorrupt):
        Index(copy).update([str(with_vectors / "seeds")], deep=False)  # an update refuses it too
    Index(copy).update([str(with_vectors / "seeds")], rebuild=True, deep=False)
    with Index.open(copy) as rebuilt, Index.open(with_vectors / "index") as original:
        assert rebuilt.stats().passages == original.stats().passages
        assert [h.text for h in rebuilt.search("Rosoboronexport").hits] == \
            [h.text for h in original.search("Rosoboronexport").hits]


@pytest.mark.parametrize("damage", ["truncate", "garble"])
@pytest.mark.parametrize("pattern", ["vectors/*/passages.npy", "vectors/*/rows.npy", "vectors/*/checksums.json",
                                     "vocabulary.*/en.npy", "vocabulary.*/ru.sorted.npy", "vocabulary.*/basis.npy"])
def test_damaged_vectors_or_vocabulary_are_left_out_then_computed_again(with_vectors: Path, tmp_path: Path,
                                                                        pattern: str, damage: str) -> None:
    copy = _damaged_copy(with_vectors, tmp_path, pattern, damage)
    with Index.open(copy) as ix:
        assert ix.search("Rosoboronexport").hits  # the text index answers
        if pattern.startswith("vectors"):
            assert ix.stats().vectors == 0
        else:
            with ix._snapshots.acquire() as snapshot:
                assert not snapshot.vocabularies
    Index(copy).update([str(with_vectors / "seeds")], deep=False)  # the next run computes them again
    with Index.open(copy) as repaired, Index.open(with_vectors / "index") as original:
        assert repaired.stats().vectors == original.stats().vectors == sum(original.stats().passages.values())
        query = "military technical cooperation with China"
        assert [h.text for h in repaired.search(query).hits] == [h.text for h in original.search(query).hits]


def test_an_index_made_before_members_were_stored_keeps_them_once_updated(
        corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """whoosh filters stored fields by the commit's schema: a writer adds the fields new since."""
    import zipfile

    from search.storage import schema, store

    def before() -> object:
        old = schema.schema()
        old.remove("member")
        return old

    with monkeypatch.context() as then:
        then.setattr(store, "schema", before)
        index = Index(tmp_path / "old")
        index.update([str(corpus)], vectors=False)
    assert "member" not in index.store.read().schema
    with zipfile.ZipFile(corpus / "notes.zip", "w") as archive:
        archive.writestr("deep/note.txt", "Charlie passage about submarines.")
    Index(index.store.path).update([str(corpus)], vectors=False)
    (hit,) = Index.open(index.store.path).search("submarines", cross=False).hits
    assert hit.member == "deep/note.txt"
    assert [h.member for h in Index.open(index.store.path).search("Alpha", cross=False).hits] == [None]
