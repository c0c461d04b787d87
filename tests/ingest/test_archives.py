"""Archives: members found by a query with their path inside, cp866 names, nesting, and zip bombs,
damaged and encrypted members skipped with a warning naming the limit or the reason."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from search import Index
from search.ingest import archives
from search.ingest.sources import Undecodable, discover, read

from ..conftest import damaged_copies

NOTE_RU = "Рособоронэкспорт подписал контракт на поставку зенитных ракетных комплексов."
NOTE_EN = "Submarines of the Pacific fleet returned to Vladivostok."


class _DosName(zipfile.ZipInfo):
    """A member named as DOS archivers wrote it: cp866 bytes, without the UTF-8 flag (0x800)."""

    def _encodeFilenameFlags(self) -> tuple[bytes, int]:
        return self.filename.encode("cp866"), self.flag_bits & ~0x800


def _cp866_zip(path: Path, name: str, text: str) -> Path:
    info = _DosName(name)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(info, text.encode("utf-8"))
    return path


def _tar(path: Path, mode: str, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, mode) as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("deep/note.txt", NOTE_EN)
    with zipfile.ZipFile(docs / "outer.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("nested.zip", inner.getvalue())
        archive.writestr("picture.xyz", b"\x00\x01")
    _cp866_zip(docs / "dos.zip", "Отчёт.txt", NOTE_RU)
    _tar(docs / "sco.tar.gz", "w:gz", {"docs/sco.txt": "Шанхайская организация сотрудничества.".encode()})
    _tar(docs / "plain.tar", "w", {"a.md": b"Annual report on arms exports."})
    _tar(docs / "x.tar.xz", "w:xz", {"b.txt": "Учения ВМФ в Балтийском море.".encode("cp1251")})
    _tar(docs / "y.tar.bz2", "w:bz2", {"c.txt": b"Hypersonic missiles were tested."})
    import gzip

    (docs / "memo.txt.gz").write_bytes(gzip.compress("Меморандум о взаимопонимании.".encode("koi8_r")))
    return docs


def _hit(index: Index, query: str) -> tuple[str, str | None, int]:
    hit = index.search(query, limit=1, cross=False).hits[0]
    return Path(hit.doc).name, hit.member, hit.line


def test_members_of_every_kind_of_archive_are_found_with_their_path_inside(tmp_path: Path, folder: Path) -> None:
    with Index(tmp_path / "ix") as index:
        report = index.update([str(folder)], vectors=False)
        assert report.indexed == 7 and not report.skipped
        assert _hit(index, "Vladivostok") == ("outer.zip", "nested.zip/deep/note.txt", 1)
        assert _hit(index, "Рособоронэкспорт") == ("dos.zip", "Отчёт.txt", 1)
        assert _hit(index, "Шанхайская") == ("sco.tar.gz", "docs/sco.txt", 1)
        assert _hit(index, "arms exports") == ("plain.tar", "a.md", 1)
        assert _hit(index, "Балтийском") == ("x.tar.xz", "b.txt", 1)
        assert _hit(index, "Hypersonic") == ("y.tar.bz2", "c.txt", 1)
        assert _hit(index, "Меморандум") == ("memo.txt.gz", "memo.txt", 1)


def test_a_changed_archive_is_read_again_whole_and_a_deleted_one_takes_its_members(tmp_path: Path,
                                                                                   folder: Path) -> None:
    with Index(tmp_path / "ix") as index:
        index.update([str(folder)], vectors=False)
        _tar(folder / "sco.tar.gz", "w:gz", {"docs/other.txt": "Совместные военные учения.".encode()})
        (folder / "dos.zip").unlink()
        report = index.update([str(folder)], vectors=False)
        assert (report.updated, report.removed, report.unchanged) == (1, 1, 5)
        assert _hit(index, "учения") == ("sco.tar.gz", "docs/other.txt", 1)
        assert not index.search("Шанхайская", cross=False).hits
        assert not index.search("Рособоронэкспорт", cross=False).hits


def test_cp866_names_are_decoded_and_utf8_or_latin_names_kept() -> None:
    info = zipfile.ZipInfo("Отчёт.txt".encode("cp866").decode("cp437"))
    assert archives.member_name(info) == "Отчёт.txt"
    assert archives.member_name(zipfile.ZipInfo("report.txt")) == "report.txt"
    flagged = zipfile.ZipInfo("Отчёт.txt")
    flagged.flag_bits |= 0x800
    assert archives.member_name(flagged) == "Отчёт.txt"


def test_nesting_past_the_limit_is_a_note(tmp_path: Path) -> None:
    data = NOTE_EN.encode()
    name = "note.txt"
    for level in range(6):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr(name, data)
        data, name = buffer.getvalue(), f"level{level}.zip"
    (tmp_path / "deep.zip").write_bytes(data)
    document = read(next(discover([str(tmp_path / "deep.zip")])))
    assert not document.sections and any("nested more than" in note for note in document.notes)


def test_encrypted_and_damaged_members_are_skipped_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "mixed.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("good.txt", NOTE_EN)
        archive.writestr("secret.txt", "тайна")
    data = bytearray(path.read_bytes())
    entry = data.find(b"PK\x01\x02", data.find(b"PK\x01\x02") + 4)  # secret.txt's central directory entry
    data[entry + 8] |= 0x1  # its flags: encrypted
    path.write_bytes(bytes(data))
    document = read(next(discover([str(path)])))
    assert [s.member for s in document.sections] == ["good.txt"]
    assert any("secret.txt: encrypted" in note for note in document.notes)


def test_a_damaged_archive_is_undecodable(tmp_path: Path) -> None:
    (tmp_path / "bad.zip").write_bytes(b"PK\x03\x04 not really")
    (tmp_path / "bad.tar.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    for name in ("bad.zip", "bad.tar.gz"):
        with pytest.raises(Undecodable, match="damaged archive"):
            read(next(discover([str(tmp_path / name)])))


def test_an_archive_read_from_its_bytes_is_the_document_streamed_from_disk(tmp_path: Path, folder: Path) -> None:
    """A cluster's worker reads an archive from the bytes its task carries: the same sections, notes,
    format and sha1 (which a file's stamp compares) as this process streaming it from disk."""
    with zipfile.ZipFile(folder / "outer.zip", "a") as archive:
        archive.writestr("broken.docx", b"PK\x03\x04 damaged")
    streamed = {source: read(source) for source in discover([str(folder)])}
    assert len(streamed) == 7 and all(document.sections for document in streamed.values())
    for source, document in streamed.items():
        assert read(source, Path(source.path).read_bytes()) == document
    assert any("broken.docx" in note for document in streamed.values() for note in document.notes)
    (tmp_path / "bad.tar.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(Undecodable, match="damaged archive"):
        read(next(discover([str(tmp_path / "bad.tar.gz")])), (tmp_path / "bad.tar.gz").read_bytes())


@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_any_damage_to_an_archive_is_undecodable_or_read(tmp_path: Path, folder: Path, kind: str) -> None:
    source = folder / ("outer.zip" if kind == "zip" else "sco.tar.gz")
    data = source.read_bytes()
    target = tmp_path / f"damaged.{kind}"
    for damaged in damaged_copies(data, seed=5, copies=150, flips=20):
        target.write_bytes(damaged)
        try:
            read(next(discover([str(target)])))
        except Undecodable:
            pass


BOMB = """
import resource, sys, zipfile
from pathlib import Path
from search.ingest.sources import discover, read
path = Path(sys.argv[1])
with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
    archive.writestr("readme.txt", "Rosoboronexport annual report.")
    with archive.open("zeros.txt", "w", force_zip64=True) as member:
        block = bytes(1 << 20)
        for _ in range(1024):
            member.write(block)
document = read(next(discover([str(path)])))
print(path.stat().st_size, [s.member for s in document.sections], document.notes,
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024, sep="\\n")
"""


def test_a_zip_bomb_is_skipped_with_a_warning_in_bounded_memory(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-c", BOMB, str(tmp_path / "bomb.zip")], capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    size, members, notes, peak_mb = run.stdout.splitlines()
    assert int(size) < 5 << 20
    assert members == "['readme.txt']" and "zeros.txt: skipped" in notes and "256 MB" in notes
    assert int(peak_mb) < 1024


def test_a_lying_declared_size_is_caught_while_streaming(tmp_path: Path) -> None:
    notes: list[str] = []
    stream = io.BytesIO(bytes(300 << 20))
    assert archives._bounded(stream, "big.bin", 300 << 20, notes) is None
    assert "over the limit of 256 MB" in notes[0]
    notes.clear()
    assert archives._bounded(io.BytesIO(bytes(20 << 20)), "zeros", 1000, notes) is None
    assert "compressed over 100 times" in notes[0]


def test_the_command_line_warns_of_skipped_members_and_names_them_in_hits(tmp_path: Path, folder: Path) -> None:
    with zipfile.ZipFile(folder / "outer.zip", "a") as archive:
        archive.writestr("broken.docx", b"PK\x03\x04 damaged")
    index = str(tmp_path / "ix")
    built = subprocess.run([sys.executable, "-m", "search", "index", str(folder), "--index", index, "--no-vectors"],
                           capture_output=True, text=True)
    assert built.returncode == 0 and "broken.docx: damaged DOCX" in built.stderr
    found = subprocess.run([sys.executable, "-m", "search", "query", "Vladivostok", "--index", index],
                           capture_output=True, text=True)
    assert found.stdout.startswith(f"1. {folder / 'outer.zip'} » nested.zip/deep/note.txt:1 #")
    line = json.loads(subprocess.run([sys.executable, "-m", "search", "query", "Vladivostok", "--index", index,
                                      "--json"], capture_output=True, text=True).stdout.splitlines()[0])
    assert line["member"] == "nested.zip/deep/note.txt" and line["page"] is None
