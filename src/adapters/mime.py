"""OutboundEmail -> RFC 5322 MIME bytes, shared by the SMTP and SES raw adapters.

UTF-8 throughout: display names and subject as RFC 2047 encoded-words (only when not plain ASCII),
bodies quoted-printable, so a Cyrillic subject and body survive any 7-bit hop. Addresses themselves
stay ASCII (SES has no SMTPUTF8).

Built with the compat32 MIME classes: the modern `email.policy` header machinery parses and refolds
every header and costs ~10 ms a message; these produce the same wire format in a fraction of that.
"""

from __future__ import annotations

import io
import re
from datetime import datetime
from email import charset as email_charset
from email.errors import MessageError
from email.generator import BytesGenerator
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.policy import compat32
from email.utils import format_datetime, formataddr

from outreach_core.domain.mail import Address, MailUnencodable, OutboundEmail

_UTF8_QP = email_charset.Charset("utf-8")
_UTF8_QP.header_encoding = email_charset.BASE64
_UTF8_QP.body_encoding = email_charset.QP
# Never refold our own headers (a folded List-Unsubscribe trips naive parsers); non-ASCII values are
# encoded (and folded between encoded-words, as RFC 2047 wants) by _text below.
_WIRE = compat32.clone(linesep="\r\n", max_line_length=998)
# A value of printable ASCII words separated by single spaces is written as it is: what compat32's fold
# makes of it anyway (tests/unit/test_mime_wire.py compares the two), without its Header machinery,
# which is most of a message's encoding time. Anything else takes compat32's way.
_PLAIN_VALUE = re.compile(r"[!-~]+(?: [!-~]+)*")


class _WireGenerator(BytesGenerator):
    def _write_headers(self, msg: Message) -> None:
        out = self._fp  # type: ignore[attr-defined]  # the generator's output file (CPython's own name)
        for name, value in msg.raw_items():
            if isinstance(value, str) and len(name) + len(value) <= 996 and _PLAIN_VALUE.fullmatch(value):
                out.write(f"{name}: {value}\r\n".encode("ascii"))
            else:
                out.write(_WIRE.fold_binary(name, value))
        self.write(self._NL)  # type: ignore[attr-defined]


def _text(name: str, value: str) -> str:
    if value.isascii():
        return value
    return Header(value, "utf-8", header_name=name).encode(linesep="\r\n", maxlinelen=76)


def _address(address: Address) -> str:
    return formataddr((address.name, address.email), charset="utf-8") if address.name else address.email


def _part(body: str, subtype: str) -> MIMENonMultipart:
    part = MIMENonMultipart("text", subtype)
    part.set_payload(body, _UTF8_QP)  # sets charset and Content-Transfer-Encoding, and encodes the body
    return part


def to_mime(email: OutboundEmail, date: datetime) -> Message:
    message: Message
    if email.html:
        message = MIMEMultipart("alternative")
        message.attach(_part(email.text, "plain"))
        message.attach(_part(email.html, "html"))
    else:
        message = _part(email.text, "plain")
    for name, value in _headers(email, date):
        message[name] = value
    return message


def wire_bytes(message: Message) -> bytes:
    """What `message.as_bytes(policy=_WIRE)` gives, faster (see _WireGenerator)."""
    out = io.BytesIO()
    _WireGenerator(out, mangle_from_=False, policy=_WIRE).flatten(message)
    return out.getvalue()


# What a text/plain part of ours starts with (compat32's own headers for it, in its order), and the
# generator's line-ending rule for a body: every line break, of any kind, becomes CRLF.
_TEXT_PART_HEADERS = "".join(f"{n}: {v}\r\n" for n, v in _part("", "plain").raw_items())
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _headers(email: OutboundEmail, date: datetime) -> list[tuple[str, str]]:
    headers = [("From", _address(email.sender)), ("To", _address(email.recipient))]
    if email.reply_to:
        headers.append(("Reply-To", email.reply_to))
    headers += [
        ("Subject", _text("Subject", email.subject)),
        ("Date", format_datetime(date)),
        ("Message-ID", email.message_id),
    ]
    return headers + list(email.headers.items())


def _plain_wire(email: OutboundEmail, date: datetime) -> bytes | None:
    """The wire form of a text-only message whose header values are all plain (printable ASCII words,
    single spaces, short), written directly: byte for byte what to_mime and wire_bytes give it
    (tests/unit/test_mime_wire.py checks the two agree), without building the Message and its
    charset machinery, which is most of an email's encoding time. None: anything else."""
    if email.html is not None:
        return None
    lines = [_TEXT_PART_HEADERS]
    for name, value in _headers(email, date):
        if len(name) + len(value) > 996 or not _PLAIN_VALUE.fullmatch(value) or not name.isascii():
            return None
        lines.append(f"{name}: {value}\r\n")
    lines.append("\r\n")
    if email.text:  # (the charset gives an empty body back as it came: bytes)
        lines.append(_LINE_BREAK.sub("\r\n", _UTF8_QP.body_encode(email.text.encode("utf-8"))))
    return "".join(lines).encode("ascii")


def to_bytes(email: OutboundEmail, date: datetime) -> bytes:
    """The wire form. Raises MailUnencodable (nothing was handed over) rather than whatever the email
    package raises, so a message that cannot be encoded is a failed job, never an `uncertain` one."""
    try:
        return _plain_wire(email, date) or wire_bytes(to_mime(email, date))
    except (UnicodeError, ValueError, TypeError, MessageError) as exc:
        raise MailUnencodable(f"the message cannot be encoded as MIME: {type(exc).__name__}") from exc
