"""Email addresses and the text around them: one canonical form, single-line header text, redaction.

Canonical form: the ASCII form (IDNA A-label domain, lower-cased), as SES and SMTP without SMTPUTF8 need
it on the wire. `idn@bücher.de` and `idn@xn--bcher-kva.de` are one address: the same lead, the same
suppression entry, the same bytes at send time. Local parts must be ASCII (no SMTPUTF8).
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from email_validator import ValidatedEmail

# Control characters (C0, DEL, C1) and the Unicode line and paragraph separators: none may reach a
# header line, where CR/LF would end the header and start another.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_LINE_BREAK = re.compile("[\r\n\x0b\x0c\x85\u2028\u2029]")
# An address inside provider text: `<person@example.com>`, `person@example.com:`, `"p@x"`.
_ADDRESS = re.compile(r"""[^\s<>()\[\],;:"'@]+@([^\s<>()\[\],;:"'@]+\.[^\s<>()\[\],;:"'@.]+)""")
REDACTED_LOCAL = "***"
# The common case, ASCII dot-atom@domain: the local part needs no more than this pattern and its
# length (RFC 5321/5322, as email-validator checks it); the domain is checked once per domain, by
# email-validator itself. tests/unit/test_addresses_fast.py compares the two paths.
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_ASCII_DOMAIN = re.compile(r"[A-Za-z0-9.-]+")


class AddressError(ValueError):
    """Not an address we can send to or compare: says why."""


def _validated(text: str, *, smtputf8: bool) -> ValidatedEmail:
    """email-validator's verdict; raises its EmailNotValidError. Imported here, on first use: its
    module compiles the RFC grammars (~50 ms), and a sender or feedback process that only ever sees
    ASCII dot-atom addresses never needs it."""
    from email_validator import validate_email

    return validate_email(text, check_deliverability=False, allow_smtputf8=smtputf8)


def _not_valid() -> type[Exception]:
    from email_validator import EmailNotValidError

    return EmailNotValidError


def canonical_email(raw: str) -> str:
    """The canonical form of an address typed or imported by a person; raises AddressError."""
    text = raw.strip()
    local, at, domain = text.rpartition("@")
    if (
        at
        and len(local) <= 64
        and len(text) <= 254
        and _DOT_ATOM.fullmatch(local)
        and _ASCII_DOMAIN.fullmatch(domain)
    ):
        checked = _checked_domain(domain.lower())
        if checked is not None:
            return f"{local}@{checked}"
    try:
        valid = _validated(text, smtputf8=False)
    except _not_valid() as exc:
        raise AddressError(f"{_shown(raw)} is not an email address we can send to: {exc}") from exc
    return f"{valid.local_part}@{valid.ascii_domain.lower()}"


@functools.lru_cache(maxsize=65_536)
def _checked_domain(domain: str) -> str | None:
    """The domain as email-validator accepts it, or None (then the whole address goes through it, for
    its own words on what is wrong)."""
    try:
        return _validated(f"a@{domain}", smtputf8=False).ascii_domain.lower()
    except _not_valid():
        return None


def address_key(email: str) -> str:
    """What hashes and lead ids are derived from: the canonical form, lower-cased. Lenient (provider
    events carry what they carry); only non-ASCII text pays for the IDNA conversion."""
    text = email.strip()
    if not text.isascii():
        try:
            valid = _validated(text, smtputf8=True)
            text = f"{valid.local_part}@{valid.ascii_domain}"
        except _not_valid():
            pass
    return text.lower()


def is_single_line(text: str) -> bool:
    return _CONTROL.search(text) is None


def single_line(text: str) -> str:
    """Header text: every run of control characters (CR, LF, TAB, NUL...) becomes one space."""
    return _CONTROL.sub(" ", text).strip()


def line_break_at(text: str) -> int | None:
    match = _LINE_BREAK.search(text)
    return match.start() if match else None


def control_at(text: str) -> int | None:
    match = _CONTROL.search(text)
    return match.start() if match else None


def redact_addresses(text: str) -> str:
    """Provider texts quote the recipient (`550 5.1.1 <person@example.com> unknown`): keep the domain,
    drop the person, before the text is logged or stored."""
    if "@" not in text:
        return text
    return _ADDRESS.sub(lambda m: f"{REDACTED_LOCAL}@{m.group(1)}", text)


def _shown(raw: str) -> str:
    """An invalid input, for an error message: short, single-line."""
    text = single_line(raw)
    return repr(text if len(text) <= 80 else text[:77] + "...")
