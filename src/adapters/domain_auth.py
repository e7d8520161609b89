"""DomainInspector over checkdmarc (SPF, DMARC), dkimpy (DKIM key records) and dnspython (MX).

Used by the CLI only (`outreach domain check`, `campaign start`): the container imports this module
when it builds the inspector, so the Lambda functions, which never check domains, never load
checkdmarc and its dependencies (and the zip does not carry them). Raw facts only: the core's
policies.domain_health judges them.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

import checkdmarc.dmarc
import checkdmarc.spf
import dkim.crypto
import dkim.util
import dns.exception
import dns.nameserver
import dns.resolver

from outreach_core.ports import DkimFacts, DmarcFacts, DomainFacts, SpfFacts

IAM_ACTIONS: frozenset[str] = frozenset()


class CheckdmarcInspector:
    def __init__(self, nameservers: Sequence[dns.nameserver.Nameserver] = (), timeout_s: float = 3.0) -> None:
        self.nameservers = list(nameservers) or None  # None: the system's resolvers
        self.timeout_s = timeout_s

    def _resolver(self) -> dns.resolver.Resolver:
        if self.nameservers is None:
            return dns.resolver.Resolver()
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = list(self.nameservers)
        return resolver

    def inspect(self, domain: str, *, mail_from: str, selectors: Sequence[str]) -> DomainFacts:
        return DomainFacts(
            domain=domain,
            spf=self._spf(mail_from),
            dkim=tuple(self._dkim(domain, s) for s in selectors),
            dmarc=self._dmarc(domain),
            mail_from=mail_from,
            mail_from_mx=self._mx(mail_from),
        )

    def _spf(self, domain: str) -> SpfFacts:
        try:
            result: Mapping[str, Any] = checkdmarc.spf.check_spf(
                domain, nameservers=self.nameservers, timeout=self.timeout_s
            )
        except Exception as exc:  # the library's own errors and DNS failures alike: a fact to report
            return SpfFacts(domain=domain, error=str(exc) or type(exc).__name__)
        record = result.get("record")
        if not record:
            return SpfFacts(domain=domain)  # none published (checkdmarc's error says only that)
        parsed = result.get("parsed") or {}
        return SpfFacts(
            domain=domain,
            record=record,
            error="" if result.get("valid") else str(result.get("error", "invalid")),
            authorised=tuple(_targets(parsed)),
            all=str(parsed.get("all") or ""),
        )

    def _dmarc(self, domain: str) -> DmarcFacts:
        try:
            result: Mapping[str, Any] = checkdmarc.dmarc.check_dmarc(
                domain, nameservers=self.nameservers, timeout=self.timeout_s
            )
        except Exception as exc:
            return DmarcFacts(error=str(exc) or type(exc).__name__)
        if not result.get("record"):
            return DmarcFacts()
        tags = result.get("tags") or {}

        def tag(name: str, default: str) -> str:
            value = (tags.get(name) or {}).get("value", default)
            return str(value)

        return DmarcFacts(
            record=result["record"],
            location=str(result.get("location") or domain),
            error="" if result.get("valid", True) else str(result.get("error", "invalid")),
            policy=tag("p", ""),
            adkim=tag("adkim", "r"),
            aspf=tag("aspf", "r"),
        )

    def _dkim(self, domain: str, selector: str) -> DkimFacts:
        name = f"{selector}._domainkey.{domain}"
        try:
            answer = self._resolver().resolve(name, "TXT", lifetime=self.timeout_s)
        except dns.resolver.NXDOMAIN:
            return DkimFacts(selector=selector, error=f"{name} does not exist")
        except dns.resolver.NoAnswer:
            return DkimFacts(selector=selector, error=f"{name} has no TXT record")
        except dns.exception.DNSException as exc:
            return DkimFacts(selector=selector, error=f"lookup failed: {type(exc).__name__}")
        record = "".join(b"".join(rdata.strings).decode("ascii", "replace") for rdata in answer)
        try:
            tags = dkim.util.parse_tag_value(record.encode())
        except dkim.util.InvalidTagValueList as exc:
            return DkimFacts(selector=selector, record=record, error=f"not a DKIM record: {exc}")
        key_type = tags.get(b"k", b"rsa").decode()
        public = tags.get(b"p", b"")
        if not public:
            return DkimFacts(selector=selector, record=record, key_type=key_type)
        try:
            der = base64.b64decode(public, validate=True)
        except ValueError:
            return DkimFacts(selector=selector, record=record, key_type=key_type, error="p= is not base64")
        if key_type == "ed25519":
            return DkimFacts(selector=selector, record=record, key_type=key_type, key_bits=len(der) * 8)
        try:
            key = dkim.crypto.parse_public_key(der)
        except dkim.crypto.UnparsableKeyError:
            return DkimFacts(
                selector=selector, record=record, key_type=key_type, error="p= is not an RSA key"
            )
        return DkimFacts(
            selector=selector, record=record, key_type=key_type, key_bits=int(key["modulus"]).bit_length()
        )

    def _mx(self, domain: str) -> tuple[str, ...]:
        try:
            answer = self._resolver().resolve(domain, "MX", lifetime=self.timeout_s)
        except dns.exception.DNSException:
            return ()
        return tuple(sorted(str(r.exchange).rstrip(".").lower() for r in answer if str(r.exchange) != "."))


def _targets(parsed: Mapping[str, Any]) -> list[str]:
    """Every include and redirect target of a parsed SPF record, recursively (checkdmarc's shape)."""
    out: list[str] = []
    for mechanism in parsed.get("mechanisms") or []:
        if mechanism.get("mechanism") == "include":
            out.append(str(mechanism.get("value", "")).lower())
            out.extend(_targets(mechanism.get("parsed") or {}))
    redirect = parsed.get("redirect")
    if isinstance(redirect, Mapping):
        out.append(str(redirect.get("domain", "")).lower())
        out.extend(_targets(redirect.get("parsed") or {}))
    elif isinstance(redirect, str) and redirect:
        out.append(redirect.lower())
    return out
