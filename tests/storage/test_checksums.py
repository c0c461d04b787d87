"""checksums: a sealed group of files reads as intact until one of them changes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from search.storage.checksums import MANIFEST, damaged, seal


@pytest.fixture()
def sealed(tmp_path: Path) -> Path:
    for name, text in (("a.txt", "Рособоронэкспорт"), ("b.txt", "air defense")):
        (tmp_path / name).write_text(text, encoding="utf-8")
    seal(sorted(tmp_path.glob("*.txt")), tmp_path / MANIFEST)
    return tmp_path


def test_files_as_written_are_intact(sealed: Path) -> None:
    assert damaged(sealed / MANIFEST) is None


def test_a_copy_that_keeps_the_bytes_but_not_the_times_is_intact(sealed: Path) -> None:
    os.utime(sealed / "a.txt", ns=(0, 0))  # the CRC is read and agrees
    assert damaged(sealed / MANIFEST) is None


@pytest.mark.parametrize("change", ["truncate", "same size", "remove"])
def test_a_changed_or_missing_file_is_named(sealed: Path, change: str) -> None:
    path = sealed / "b.txt"
    data = path.read_bytes()
    if change == "remove":
        path.unlink()
    else:
        path.write_bytes(data[:3] if change == "truncate" else data.upper())
    assert damaged(sealed / MANIFEST) == "b.txt"


@pytest.mark.parametrize("manifest", [None, b"", b"{not json", b'{"a.txt": 3}', b"{}"])
def test_a_missing_or_unreadable_manifest_is_damage(sealed: Path, manifest: bytes | None) -> None:
    if manifest is None:
        (sealed / MANIFEST).unlink()
    else:
        (sealed / MANIFEST).write_bytes(manifest)
    assert damaged(sealed / MANIFEST) == MANIFEST
