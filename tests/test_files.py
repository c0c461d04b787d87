"""Mapped arrays and the machine's caches: what every index folder and cache is read through."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from search import files
from search.files import FrozenTable, MachineCache, is_mapped, mapped, release

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


def _saved(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def test_a_frozen_table_gives_each_keys_value_and_nothing_for_others(tmp_path: Path) -> None:
    items = [("договорах", "договор"), ("ёлка", "ёлка\tёлок"), ("city", ""), ("a b", "c\td")]
    items += [(f"w{i}", f"v{i}") for i in range(500)]
    np.save(tmp_path / "t.npy", FrozenTable.layout([*items, ("nul\x00key", "left out")]), allow_pickle=False)
    table = FrozenTable(mapped(tmp_path / "t.npy"))
    assert table.count == len(items)
    assert all(table.get(key) == value for key, value in items)
    assert [table.get(key) for key in ("", "договора", "w500", "nul\x00key", "ёлк")] == [None] * 5
    asked = [key for key, _ in items[::-1]] + ["", "договора", "w500", "ёлк"]
    assert table.get_many(asked) == [table.get(key) for key in asked]  # the searches made together
    assert table.get_many([]) == [] and FrozenTable(FrozenTable.layout([])).get_many(["x"]) == [None]
    assert FrozenTable(FrozenTable.layout([])).get("x") is None
    FrozenTable.write(tmp_path / "written.npy", items)  # part by part: the same file as np.save's of the layout
    assert (tmp_path / "written.npy").read_bytes() == _saved(FrozenTable.layout(items))
    data = FrozenTable.layout(items)
    with pytest.raises(ValueError):
        FrozenTable(data[:-1])  # entries cut short


def test_a_frozen_machine_cache_is_read_first_and_sqlite_for_the_rest(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files, "FREEZE_AFTER", 3)
    path = tmp_path / "lemmas.sqlite"
    cache = MachineCache(path)
    cache.write([("город", "город"), ("реки", "река")])
    cache.freeze()  # none there yet: laid out whatever the rows
    assert FrozenTable(mapped(cache.frozen_path)).count == 2
    cache.write([("морях", "море"), ("лесов", "лес")])
    cache.freeze()  # two rows beyond it: fewer than FREEZE_AFTER, left as it is
    assert FrozenTable(mapped(cache.frozen_path)).count == 2
    reader = MachineCache(path)
    assert reader.read(["город", "морях", "небо"]) == {"город": "город", "морях": "море"}  # the rest from SQLite
    cache.write([("полей", "поле")])
    cache.freeze()
    assert FrozenTable(mapped(cache.frozen_path)).count == 5
    path.unlink()  # the frozen table alone answers what it holds
    assert MachineCache(path).read(["реки", "полей", "небо"]) == {"реки": "река", "полей": "поле"}
    cache.frozen_path.write_bytes(cache.frozen_path.read_bytes()[:100])
    assert MachineCache(path).read(["реки"]) == {}  # a damaged one is not read


def test_a_machine_cache_of_bytes_is_frozen_and_read_back_as_bytes(tmp_path: Path) -> None:
    """Word vectors are bytes (float16 rows): frozen, they read back as they were written."""
    vectors = {"moscow": np.arange(4, dtype=np.float16).tobytes(), "москва": b"\x00\x01\xff", "nul": b"\x00"}
    path = tmp_path / "words.sqlite"
    cache = MachineCache(path, "words", ("word", "vector"), binary=True)
    cache.write(vectors.items())
    cache.freeze()
    assert FrozenTable(mapped(cache.frozen_path)).count == 3
    path.unlink()  # the frozen table alone answers
    reader = MachineCache(path, "words", ("word", "vector"), binary=True)
    assert reader.read([*vectors, "paris"]) == vectors
    assert reader.get("москва") == b"\x00\x01\xff" and reader.get("paris") is None
