"""Mapped arrays and the machine's caches: what every index folder and cache is read through."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from search.files import MachineCache, is_mapped, mapped, release

ARRAYS = [np.arange(12, dtype=np.float32).reshape(3, 4), np.zeros((0, 512), np.float32), np.array(3.5),
          np.array([b"ab", "ёлка".encode()]), np.arange(6, dtype=">i8").reshape(2, 3), np.arange(5, dtype=np.int32)]


@pytest.mark.parametrize("array", ARRAYS, ids=lambda a: f"{a.dtype.str}{a.shape}")
def test_a_saved_array_comes_back_mapped_as_it_was(tmp_path: Path, array: np.ndarray) -> None:
    np.save(tmp_path / "a.npy", array, allow_pickle=False)
    back = mapped(tmp_path / "a.npy")
    assert back.dtype == array.dtype and back.shape == array.shape and np.array_equal(back, array)
    assert type(back) is np.ndarray and not back.flags.writeable
    assert is_mapped(back) == bool(array.size)  # an empty array has nothing to map
    release(back)
    assert np.array_equal(back, array)  # pages let go of are read again


def test_an_array_numpy_lays_out_otherwise_is_read_by_numpy(tmp_path: Path) -> None:
    fortran = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    np.save(tmp_path / "f.npy", fortran)
    assert np.array_equal(mapped(tmp_path / "f.npy"), fortran)


def test_objects_and_short_files_are_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError):
        mapped(tmp_path / "o.npy")
    np.save(tmp_path / "s.npy", np.arange(1000, dtype=np.int64))
    data = (tmp_path / "s.npy").read_bytes()
    (tmp_path / "s.npy").write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError):
        mapped(tmp_path / "s.npy")


def test_a_machine_cache_keeps_what_one_writes_for_another_to_read(tmp_path: Path) -> None:
    path = tmp_path / "cache" / "words.sqlite"
    reader = MachineCache(path)
    assert reader.read(["город"]) == {}  # nothing written yet
    MachineCache(path).write([("город", "city"), ("река", "river")])
    assert reader.read(["город", "река", "море"]) == {"город": "city", "река": "river"}
    path.write_bytes(b"not a database" * 100)
    assert MachineCache(path).read(["город"]) == {} and not path.exists()  # damaged: started afresh
