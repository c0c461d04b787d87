"""E-mail -> its searchable text and its attachments: .eml, .mbox and Outlook .msg.

A message's From, To, Cc, Subject and Date are text like its body (a sender's name finds
the message), RFC 2047 words decoded. The body is read in the charset it declares; one that
declares none is detected as a text file is (``sources.decode``: KOI8-R, Windows-1251...).
An HTML body gives its visible text. Attachments are returned as bytes with their names, for
the caller to read through the same readers.
"""

from __future__ import annotations

import codecs
import email
import re
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from typing import Callable, Iterator

from .formats import Undecodable

SUFFIXES = (".eml", ".mbox", ".msg")
HEADERS = ("From", "To", "Cc", "Subject", "Date")

Decode = Callable[[bytes], tuple[str, str]]
ToText = Callable[[str], str]



@dataclass(frozen=True, slots=True)
class Message:
    """What a message contributes: headers and body as text, and attachments as (name, bytes)."""

    text: str
    attachments: tuple[tuple[str, bytes], ...]


def parse(data: bytes, decode: Decode, html_to_text: ToText) -> Message:
    """One RFC 5322 message (.eml). ``decode`` reads undeclared text; ``html_to_text`` an HTML body."""
    try:
        message = email.message_from_bytes(data, policy=policy.default)
        head = [f"{name}: {value}" for name in HEADERS for value in [_header(message, name)] if value]
        body = message.get_body(preferencelist=("plain", "html"))
        text = _part_text(body, decode, html_to_text) if body is not None else ""
        attachments = []
        for number, part in enumerate(message.iter_attachments(), 1):
            if part.get_content_type() == "message/rfc822":
                inner = part.get_payload(0) if part.is_multipart() else part.get_content()
                attachments.append((part.get_filename() or f"attachment-{number}.eml", bytes(inner)))
            else:
                payload = part.get_payload(decode=True)
                if isinstance(payload, bytes) and payload:
                    attachments.append((part.get_filename() or f"attachment-{number}", payload))
    except (ValueError, TypeError, LookupError, AttributeError, IndexError, KeyError) as error:
        raise Undecodable(f"damaged message ({type(error).__name__})") from None
    return Message("\n".join(head) + "\n\n" + text, tuple(attachments))


def _header(message: EmailMessage, name: str) -> str:
    """A header decoded (RFC 2047), or "" when absent; a malformed one as its raw text."""
    try:
        value = str(message.get(name) or "")
    except (ValueError, TypeError, IndexError, LookupError, AttributeError):
        return ""
    return " ".join(value.split())


def _part_text(part: EmailMessage, decode: Decode, html_to_text: ToText) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_param("charset")
    text = None
    if isinstance(charset, str):
        try:
            text = payload.decode(codecs.lookup(charset).name, errors="replace")
        except LookupError:
            text = None
    if text is None:
        text = decode(payload)[0]
    return html_to_text(text) if part.get_content_type() == "text/html" else text


_FROM_LINE = re.compile(rb"^From [^\r\n]*\r?\n", re.M)


def mbox_messages(data: bytes) -> Iterator[bytes]:
    """The messages of an mbox, split at its "From " lines (as ``mailbox.mbox`` does), in memory."""
    starts = [match for match in _FROM_LINE.finditer(data)]
    if not starts or starts[0].start() != 0:
        raise Undecodable("not an mbox (no From line at its start)")
    for match, following in zip(starts, [*starts[1:], None]):
        end = following.start() if following else len(data)
        yield re.sub(rb"(?m)^>(>*From )", rb"\1", data[match.end():end])


def msg_message(data: bytes, html_to_text: ToText) -> Message:
    """An Outlook .msg (extract-msg): its headers, body and attachments."""
    try:
        import extract_msg
    except ImportError:
        raise Undecodable("Outlook .msg needs extract-msg (pip install extract-msg)") from None
    try:
        with extract_msg.openMsg(data) as message:
            head = [f"{name}: {value}" for name, value in (
                ("From", message.sender), ("To", message.to), ("Cc", message.cc),
                ("Subject", message.subject), ("Date", message.date)) if value]
            body = message.body or ""
            if not body.strip() and message.htmlBody:
                body = html_to_text(message.htmlBody.decode("utf-8", errors="replace"))
            attachments = tuple((a.longFilename or a.shortFilename or f"attachment-{n}", a.data)
                                for n, a in enumerate(message.attachments, 1) if isinstance(a.data, bytes))
    except Exception as error:  # a damaged OLE file fails anywhere in olefile and extract-msg
        raise Undecodable(f"damaged Outlook message ({type(error).__name__})") from None
    return Message("\n".join(" ".join(str(line).split()) for line in head) + "\n\n" + body, attachments)
