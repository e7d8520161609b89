"""OutboundEmail -> RFC 5322 MIME bytes, shared by the SMTP and SES raw adapters.

UTF-8 throughout: display names and subject as RFC 2047 encoded-words, bodies quoted-printable, so a
Cyrillic subject and body survive any 7-bit hop. Addresses themselves stay ASCII (SES has no SMTPUTF8).
"""

from __future__ import annotations

from datetime import datetime
from email import policy
from email.headerregistry import Address as HeaderAddress
from email.message import EmailMessage
from email.utils import format_datetime

from outreach_core.domain.mail import Address, OutboundEmail


def _address(address: Address) -> HeaderAddress:
    username, _, domain = address.email.rpartition("@")
    return HeaderAddress(display_name=address.name, username=username, domain=domain)


def to_mime(email: OutboundEmail, date: datetime) -> EmailMessage:
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = _address(email.sender)
    message["To"] = _address(email.recipient)
    if email.reply_to:
        message["Reply-To"] = email.reply_to
    message["Subject"] = email.subject
    message["Date"] = format_datetime(date)
    message["Message-ID"] = email.message_id
    for name, value in email.headers.items():
        message[name] = value
    message.set_content(email.text, charset="utf-8", cte="quoted-printable")
    if email.html:
        message.add_alternative(email.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return message


def to_bytes(email: OutboundEmail, date: datetime) -> bytes:
    return to_mime(email, date).as_bytes()
