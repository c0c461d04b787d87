"""A passage's words are kept as the hashes of its folded letter runs, one folder per segment."""

from pathlib import Path

import numpy as np

from search.files import digest64
from search.storage import wordsets


def test_a_texts_words_are_its_folded_letter_runs_each_once() -> None:
    text = "Ёлка и ЁЛКА-палка: Warsaw, warsaw's 2024 ёжик"
    assert wordsets.forms(text) == {"елка", "и", "палка", "warsaw", "s", "ежик"}
    assert wordsets.of_text(text).tolist() == sorted(digest64(form) for form in wordsets.forms(text))
    assert wordsets.of_text("2024 — !").tolist() == []


def test_a_words_hash_is_the_same_in_every_process_and_release() -> None:
    """Indexes keep them: a hash may never change (Python's own hash of a str changes per process)."""
    assert digest64("варшава") == digest64("варшава".encode("utf-8")) == 16210598654720993097
    assert digest64("warsaw") == 3108417335376250309


def test_a_table_gives_each_of_its_words_row_and_minus_one_for_others() -> None:
    table = wordsets.table(["warsaw", "capital", "столица"])
    assert table.dtype == np.uint64 and table.shape == (2, 3) and np.all(np.diff(table[0].astype(np.float64)) > 0)
    assert wordsets.rows_in(table, wordsets.hashes(["столица", "moscow", "warsaw"])).tolist() == [2, -1, 0]
    assert wordsets.rows_in(wordsets.table([]), wordsets.hashes(["warsaw"])).tolist() == [-1]


def test_a_segments_words_are_read_back_record_by_record(tmp_path: Path) -> None:
    """Records without text (a file's record) have none; words of another shape are not read."""
    texts = [(2, "Варшава — столица Польши."), (0, "Warsaw is the capital of Poland.")]
    wordsets.save(tmp_path, "passages_x", 3, texts)
    found = wordsets.load(tmp_path, "passages_x", 3)
    assert found is not None
    assert found.of(0).tolist() == wordsets.of_text(texts[1][1]).tolist() and len(found.of(0)) == 6
    assert found.of(1).tolist() == []
    assert found.of(2).tolist() == wordsets.of_text(texts[0][1]).tolist() and len(found.of(2)) == 3
    assert wordsets.load(tmp_path, "passages_x", 4) is None
    assert wordsets.load(tmp_path, "passages_y", 3) is None


def test_missing_names_the_segments_without_readable_words_and_save_replaces_them(tmp_path: Path) -> None:
    """A segment lacks words it never had, damaged ones, and those written under other rules (the
    stamp of the analysis that splits and folds words); saving them again removes the others."""
    segments = [("passages_a", 1), ("passages_b", 1)]
    assert wordsets.missing(tmp_path, segments) == [0, 1]
    wordsets.save(tmp_path, "passages_a", 1, [(0, "Warsaw is the capital.")])
    wordsets.save(tmp_path, "passages_b", 1, [(0, "Варшава — столица.")])
    assert wordsets.missing(tmp_path, segments) == []
    (folder,) = tmp_path.glob("passages_b.*")
    with open(folder / "hashes.npy", "ab") as file:
        file.write(b"\0" * 8)
    assert wordsets.missing(tmp_path, segments) == [1]
    wordsets.save(tmp_path, "passages_b", 1, [(0, "Варшава — столица.")])
    found = wordsets.load(tmp_path, "passages_b", 1)
    assert found is not None and found.of(0).tolist() == wordsets.of_text("Варшава — столица.").tolist()
    other = tmp_path / "passages_a.0-other-rules"
    (tmp_path / wordsets._name("passages_a")).rename(other)
    assert wordsets.missing(tmp_path, segments) == [0]  # written under other rules: not read
    wordsets.save(tmp_path, "passages_a", 1, [(0, "Warsaw is the capital.")])
    assert not other.exists() and sorted(p.name.split(".")[0] for p in tmp_path.iterdir()) == ["passages_a", "passages_b"]
