"""checksums: a sealed group of files reads as intact until one of them changes; sealed folders of
arrays are built once, whole, however many processes ask at once."""

from __future__ import annotations

import multiprocessing
import os
import random
import time
from pathlib import Path

import numpy as np
import pytest

from search.files import is_mapped
from search.storage import checksums
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


def test_sealed_arrays_are_built_once_and_read_mapped(tmp_path: Path) -> None:
    builds = []
    folder = tmp_path / "arrays"
    for _ in range(2):
        arrays = checksums.sealed_arrays(folder, lambda: builds.append(1) or {"x": np.arange(4.0)})
        assert arrays["x"].tolist() == [0.0, 1.0, 2.0, 3.0] and is_mapped(arrays["x"])
    assert len(builds) == 1


def test_a_damaged_folder_of_arrays_is_built_again(tmp_path: Path) -> None:
    folder = tmp_path / "arrays"
    checksums.sealed_arrays(folder, lambda: {"x": np.arange(4.0), "y": np.ones(2)})
    (folder / "y.npy").unlink()
    assert checksums.sealed_arrays(folder, lambda: {"x": np.zeros(4), "y": np.zeros(2)})["y"].tolist() == [0.0, 0.0]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["arrays"]  # nothing left aside


def test_a_sound_folder_another_process_put_in_place_first_is_kept(tmp_path: Path) -> None:
    """Processes reading it keep their files: it is not replaced by the one built later."""
    folder = tmp_path / "arrays"

    def built_later() -> dict[str, np.ndarray]:
        first = checksums.sealed_arrays(folder, lambda: {"x": np.ones(3)})  # another process, sooner
        assert first["x"].tolist() == [1.0, 1.0, 1.0]
        return {"x": np.zeros(3)}

    assert checksums.sealed_arrays(folder, built_later)["x"].tolist() == [1.0, 1.0, 1.0]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["arrays"]


def _build_slowly() -> dict[str, np.ndarray]:
    time.sleep(random.uniform(0, 0.02))
    return {f"a{i}": np.full(50_000, i, np.float32) for i in range(12)}


def _read_thrice(folder: str, start, out) -> None:  # type: ignore[no-untyped-def]
    random.seed()
    start.wait()
    try:
        for _ in range(3):
            arrays = checksums.sealed_arrays(Path(folder), _build_slowly)
            assert sorted(arrays) == sorted(f"a{i}" for i in range(12))
            assert all(float(array[0]) == int(name[1:]) for name, array in arrays.items())
        out.put("read")
    except Exception as error:  # reported to the test
        out.put(f"{type(error).__name__}: {error}")


def test_processes_that_find_the_arrays_missing_at_once_all_read_them_whole(tmp_path: Path) -> None:
    """As an indexing run's workers do on a new machine. Before, the last to finish replaced the
    folder that others were reading (a failure in 18 of 40 such trials)."""
    context = multiprocessing.get_context("fork")
    for trial in range(10):
        start, out = context.Barrier(4), context.Queue()
        processes = [context.Process(target=_read_thrice, args=(str(tmp_path / f"arrays{trial}"), start, out))
                     for _ in range(4)]
        for process in processes:
            process.start()
        for process in processes:
            process.join(60)
        assert [out.get(timeout=10) for _ in processes] == ["read"] * 4
