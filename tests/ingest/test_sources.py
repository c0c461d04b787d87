"""Sources: files are found and decoded whatever their encoding; binaries are refused."""

from collections import Counter

import pytest

from search.errors import InputError
from search.ingest.sources import Undecodable, decode, discover, html_to_text, read

RUSSIAN = "Китай проявил интерес к высокотехнологичным образцам российского вооружения."


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "cp1251", "koi8_r"])
def test_russian_text_is_decoded_in_every_common_encoding(encoding: str) -> None:
    text, _ = decode(RUSSIAN.encode(encoding))
    assert text.lstrip("\ufeff") == RUSSIAN


def test_cp1251_and_koi8r_are_told_apart() -> None:
    assert decode(RUSSIAN.encode("cp1251"))[1] == "cp1251"
    assert decode(RUSSIAN.encode("koi8_r"))[1] == "koi8_r"


def test_binary_data_is_refused() -> None:
    with pytest.raises(Undecodable):
        decode(bytes(range(256)) * 20)
    with pytest.raises(Undecodable):
        decode(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(500))


def test_empty_file_is_fine() -> None:
    assert decode(b"") == ("", "utf-8")


def test_html_keeps_only_visible_text() -> None:
    html = ("<html><head><title>Заголовок</title><style>p {color: red}</style></head>"
            "<body><script>var x = 1;</script><p>Первый&nbsp;абзац.</p><div>Second <b>block</b></div></body></html>")
    text = html_to_text(html)
    assert "color" not in text and "var x" not in text
    assert text.split("\n\n") == ["Заголовок", "Первый\xa0абзац.", "Second block"]


def test_discover_finds_supported_files_recursively_in_order_and_counts_the_others(tmp_path) -> None:
    (tmp_path / "b").mkdir()
    for name in ["a.txt", "b/c.md", "b/d.html", "b/f.docx", "e.pdf", "g.numbers", "h.psd", "b/i.numbers", "README",
                 ".hidden.txt", ".hidden.xlsx"]:
        (tmp_path / name).write_text("x", encoding="utf-8")
    unsupported: Counter[str] = Counter()
    found = [s.path for s in discover([str(tmp_path)], unsupported)]
    assert found == [str(tmp_path / name) for name in ("a.txt", "e.pdf", "b/c.md", "b/d.html", "b/f.docx")]
    assert unsupported == {".numbers": 2, ".psd": 1, "(no suffix)": 1}


def test_missing_path_is_an_input_error(tmp_path) -> None:
    with pytest.raises(InputError, match="no such file"):
        list(discover([str(tmp_path / "nope")]))


def test_read_decodes_html_files(tmp_path) -> None:
    page = tmp_path / "page.htm"
    page.write_bytes("<p>Рособоронэкспорт</p><script>x()</script>".encode("cp1251"))
    document = read(next(discover([str(page)])))
    assert document.text == "Рособоронэкспорт"
    assert document.encoding == "cp1251"
