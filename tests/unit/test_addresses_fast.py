"""canonical_email's fast path (plain ASCII addresses, the domain checked once) agrees with
email-validator on every address: the same canonical form, or an AddressError for the same ones."""

from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email

from outreach_core.domain.addresses import AddressError, canonical_email

ADDRESSES = [
    "ann@corp.com",
    "Ann.Example@Corp.COM",
    "ann+tag@corp.co.uk",
    "o'brien@corp.ie",
    "a{b}|c~d@corp.com",
    "x" * 64 + "@corp.com",
    "x" * 65 + "@corp.com",  # local part too long
    "a@" + "b" * 63 + ".com",
    "a@" + "b" * 64 + ".com",  # label too long
    "a@" + ".".join(["abcdefghi"] * 26) + ".com",  # address too long
    "a..b@corp.com",
    ".a@corp.com",
    "a.@corp.com",
    "a@-corp.com",
    "a@corp-.com",
    "a@corp..com",
    "a@corp",
    "a@corp.c",
    "a@corp.123",
    "a@localhost",
    "a@corp.local",
    "a@corp.test",
    "a@corp.invalid",
    "a@corp.example",
    "a@example.com",
    "a@[127.0.0.1]",
    "a@127.0.0.1",
    '"quoted"@corp.com',
    "a b@corp.com",
    "a@b@corp.com",
    "@corp.com",
    "a@",
    "idn@bücher.de",
    "idn@xn--bcher-kva.de",
    "ünï@corp.com",
    "a@xn--.com",
    "a@CORP.Com.",
    "a@corp.com.",
    "  padded@corp.com  ",
]


def _reference(raw: str) -> str | None:
    try:
        valid = validate_email(raw.strip(), check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        return None
    return f"{valid.local_part}@{valid.ascii_domain.lower()}"


@pytest.mark.parametrize("raw", ADDRESSES)
def test_the_fast_path_agrees_with_email_validator(raw: str) -> None:
    expected = _reference(raw)
    if expected is None:
        with pytest.raises(AddressError):
            canonical_email(raw)
    else:
        assert canonical_email(raw) == expected
