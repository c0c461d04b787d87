"""E-mail: headers searchable (a sender's name finds the message), RFC 2047 and undeclared KOI8-R
decoded, HTML by its visible text, attachments read as members, mbox messages apart, damage skipped."""

from __future__ import annotations

import io
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import pytest

from search import Index
from search.ingest import mail
from search.ingest.sources import Undecodable, decode, discover, html_to_text, read

from ..conftest import damaged_copies

BODY = "Делегация посетила выставку вооружений в Дубае и провела переговоры."


def _docx(paragraphs: list[str]) -> bytes:
    from docx import Document

    document = Document()
    for text in paragraphs:
        document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def message(subject: str = "Отчёт о выставке IDEX", attach: bool = True, charset: str | None = None,
            body: str = BODY) -> bytes:
    """A message from a Russian sender, its body KOI8-R 8bit with no charset declared, a DOCX attached."""
    msg = EmailMessage()
    msg["From"] = "Иван Петров <ivan@example.ru>"
    msg["To"] = "Alice Smith <alice@example.com>"
    msg["Cc"] = "Борис <boris@example.ru>"
    msg["Subject"] = subject
    msg["Date"] = "Tue, 01 Dec 2026 10:00:00 +0000"
    msg.set_content(body.encode("koi8_r"), maintype="text", subtype="plain", cte="8bit")
    if charset is None:
        del msg["Content-Type"]
        msg["Content-Type"] = "text/plain"
    if attach:
        msg.add_attachment(_docx(["Review of the Dubai air show.", "Истребители пятого поколения."]),
                           maintype="application", subtype="octet-stream", filename="review.docx")
    return msg.as_bytes(policy=SMTP)


def _hit(index: Index, query: str) -> tuple[str, str | None]:
    hit = index.search(query, limit=1, cross=False).hits[0]
    return Path(hit.doc).name, hit.member


@pytest.fixture()
def mailbox(tmp_path: Path) -> Path:
    folder = tmp_path / "mail"
    folder.mkdir()
    (folder / "dubai.eml").write_bytes(message())
    html = EmailMessage()
    html["From"] = "Press Office <press@example.com>"
    html["Subject"] = "Hypersonic test"
    html.set_content("<html><style>p {color: red}</style><body><p>The Zircon missile was tested.</p></body></html>",
                     subtype="html")
    box = b"".join(b"From sender@example.com Tue Dec  1 10:00:00 2026\n" + raw + b"\n"
                   for raw in (html.as_bytes(), message("Учения", attach=False, body="Учения Балтийского флота прошли.")))
    (folder / "box.mbox").write_bytes(box)
    return folder


def test_headers_body_and_attachments_are_found_with_their_member(tmp_path: Path, mailbox: Path) -> None:
    with Index(tmp_path / "ix") as index:
        report = index.update([str(mailbox)], vectors=False)
        assert report.indexed == 2 and not report.skipped
        senders = {(Path(hit.doc).name, hit.member) for hit in index.search("Петров", cross=False).hits}
        assert senders == {("dubai.eml", None), ("box.mbox", "message 2")}
        assert _hit(index, "IDEX") == ("dubai.eml", None)  # subject in RFC 2047
        assert _hit(index, "Дубае") == ("dubai.eml", None)  # KOI8-R body, no charset declared
        assert _hit(index, "Истребители") == ("dubai.eml", "review.docx")
        assert _hit(index, "Zircon") == ("box.mbox", "message 1")
        assert not index.search("color", cross=False).hits  # style is no visible text
        assert _hit(index, "флота") == ("box.mbox", "message 2")


def test_rfc2047_headers_are_decoded_and_declared_charsets_used() -> None:
    raw = message(charset="koi8-r")
    assert b"=?utf-8?" in raw  # the subject went out encoded
    parsed = mail.parse(raw, decode, html_to_text)
    assert "Subject: Отчёт о выставке IDEX" in parsed.text and "From: Иван Петров" in parsed.text
    assert BODY in parsed.text and [name for name, _ in parsed.attachments] == ["review.docx"]


def test_an_mbox_is_one_member_per_message_and_a_nested_eml_is_read_too(tmp_path: Path) -> None:
    import zipfile

    with zipfile.ZipFile(tmp_path / "mail.zip", "w") as archive:
        archive.writestr("inbox/dubai.eml", message())
    document = read(next(discover([str(tmp_path / "mail.zip")])))
    assert [s.member for s in document.sections] == ["inbox/dubai.eml", "inbox/dubai.eml/review.docx"]


def test_a_damaged_mbox_or_message_is_undecodable(tmp_path: Path) -> None:
    (tmp_path / "bad.mbox").write_bytes(b"not an mbox at all")
    with pytest.raises(Undecodable, match="not an mbox"):
        read(next(discover([str(tmp_path / "bad.mbox")])))
    (tmp_path / "bad.msg").write_bytes(b"\xd0\xcf\x11\xe0 broken")
    with pytest.raises(Undecodable, match="Outlook"):
        read(next(discover([str(tmp_path / "bad.msg")])))


def test_any_damage_to_a_message_is_undecodable_or_read(tmp_path: Path) -> None:
    data = message()
    target = tmp_path / "damaged.eml"
    for damaged in damaged_copies(data, seed=7, copies=200, flips=30):
        target.write_bytes(damaged)
        try:
            read(next(discover([str(target)])))
        except Undecodable:
            pass
