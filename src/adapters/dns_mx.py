"""MxResolver over dnspython, with an in-process cache (deliverability.md §4: cache for hours).

One lookup per domain answers both questions the core asks: who receives its mail (the MX hosts, for
the provider) and whether it receives mail at all (MX, or the A / AAAA fallback of RFC 5321 §5.1; a
null MX of RFC 7505 or a name that does not exist means no). A failed lookup says "unknown" and is
cached briefly: a DNS outage slows nothing down and drops no lead.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Sequence

import dns.exception
import dns.nameserver
import dns.resolver
import structlog

from outreach_core.ports import DomainFacts, MailRoute, RouteStatus

log = structlog.get_logger(__name__)


def nameservers(spec: str) -> list[dns.nameserver.Nameserver]:
    """`host[:port],...` (e.g. a test's DNS server on 127.0.0.1:5353) as dnspython nameservers."""
    out: list[dns.nameserver.Nameserver] = []
    for entry in (e.strip() for e in spec.split(",")):
        if entry:
            host, _, port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "53")
            out.append(dns.nameserver.Do53Nameserver(host or entry, int(port or 53)))
    return out


def make_resolver(spec: str = "") -> dns.resolver.Resolver | None:
    """A resolver asking the given nameservers, or None for the system's (read on first use)."""
    servers = nameservers(spec)
    if not servers:
        return None
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = servers
    return resolver


class DnsMxResolver:
    def __init__(
        self,
        *,
        ttl_s: float = 6 * 3600,
        negative_ttl_s: float = 600,
        lifetime_s: float = 3.0,
        resolver: dns.resolver.Resolver | None = None,
    ) -> None:
        self.ttl_s = ttl_s
        self.negative_ttl_s = negative_ttl_s
        self.lifetime_s = lifetime_s
        self._resolver = resolver
        self._cache: dict[str, tuple[float, MailRoute]] = {}
        self._lock = threading.Lock()
        self.lookups = 0

    def _dns(self) -> dns.resolver.Resolver:
        if self._resolver is None:  # built on first use: reading resolv.conf is IO
            self._resolver = dns.resolver.Resolver()
        return self._resolver

    def mx(self, domain: str) -> list[tuple[int, str]]:
        return list(self.route(domain).mx)

    def route(self, domain: str) -> MailRoute:
        domain = domain.lower().rstrip(".")
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(domain)
        if cached is not None and cached[0] > now:
            return cached[1]
        route = self._lookup(domain)
        ttl = self.negative_ttl_s if route.status is RouteStatus.UNKNOWN else self.ttl_s
        with self._lock:
            self._cache[domain] = (now + ttl, route)
        return route

    def _lookup(self, domain: str) -> MailRoute:
        self.lookups += 1
        try:
            answer = self._dns().resolve(domain, "MX", lifetime=self.lifetime_s)
        except dns.resolver.NXDOMAIN:
            return MailRoute(domain=domain, status=RouteStatus.NO_DOMAIN)
        except dns.resolver.NoAnswer:
            return self._fallback(domain)
        except (dns.resolver.NoNameservers, dns.exception.Timeout, dns.exception.DNSException) as exc:
            log.warning("mx.lookup_failed", domain=domain, error=type(exc).__name__)
            return MailRoute(domain=domain, status=RouteStatus.UNKNOWN)
        records = tuple(
            (int(rdata.preference), str(rdata.exchange).rstrip(".").lower())
            for rdata in answer
            if str(rdata.exchange).rstrip(".")  # "0 ." is a null MX (RFC 7505): no mail at all
        )
        if not records:
            return MailRoute(domain=domain, status=RouteStatus.NULL_MX)
        return MailRoute(domain=domain, status=RouteStatus.MX, mx=records)

    def _fallback(self, domain: str) -> MailRoute:
        """No MX: RFC 5321 §5.1 delivers to the domain's own address, if it has one."""
        for rdtype in ("A", "AAAA"):
            try:
                self._dns().resolve(domain, rdtype, lifetime=self.lifetime_s)
                return MailRoute(domain=domain, status=RouteStatus.ADDRESS)
            except dns.resolver.NoAnswer:
                continue
            except dns.resolver.NXDOMAIN:
                return MailRoute(domain=domain, status=RouteStatus.NO_DOMAIN)
            except dns.exception.DNSException as exc:
                log.warning("mx.lookup_failed", domain=domain, error=type(exc).__name__)
                return MailRoute(domain=domain, status=RouteStatus.UNKNOWN)
        return MailRoute(domain=domain, status=RouteStatus.NO_MAIL)


class StaticMxResolver:
    """Offline: answers from a table, so the demo and the simulator never touch DNS. A value is an MX
    host, or one of NULL_MX / NO_DOMAIN / NO_MAIL / ADDRESS for a domain that is known not to (or to
    only by its A record) receive mail. Domains not in the table are "unknown": they count as the
    "other" provider and are not skipped."""

    NULL_MX, NO_DOMAIN, NO_MAIL, ADDRESS = ".", "!nxdomain", "!nomail", "!address"
    _MARKS = {
        NULL_MX: RouteStatus.NULL_MX,
        NO_DOMAIN: RouteStatus.NO_DOMAIN,
        NO_MAIL: RouteStatus.NO_MAIL,
        ADDRESS: RouteStatus.ADDRESS,
    }

    def __init__(self, table: dict[str, str] | None = None, *, known: Sequence[str] = ()) -> None:
        self.table = {k.lower(): v for k, v in (table or {}).items()}
        self.known = frozenset(d.lower() for d in known)  # known to receive mail, MX not given
        self._answers = functools.lru_cache(maxsize=65_536)(self._answer)  # the table never changes

    def mx(self, domain: str) -> list[tuple[int, str]]:
        return list(self.route(domain).mx)

    def route(self, domain: str) -> MailRoute:
        return self._answers(domain.lower().rstrip("."))

    def _answer(self, domain: str) -> MailRoute:
        value = self.table.get(domain)
        if value is None:
            status = RouteStatus.MX if domain in self.known else RouteStatus.UNKNOWN
            return MailRoute(domain=domain, status=status)
        mark = self._MARKS.get(value)
        if mark is not None:
            return MailRoute(domain=domain, status=mark)
        return MailRoute(domain=domain, status=RouteStatus.MX, mx=((10, value),))


class OfflineDomainInspector:
    """With the offline resolver (the demo, tests, a local sink) nothing is looked up: every check
    says so, and a campaign start is not blocked by what was not checked."""

    def inspect(self, domain: str, *, mail_from: str, selectors: Sequence[str]) -> DomainFacts:
        return DomainFacts(domain=domain, checked=False, not_checked="offline resolver", mail_from=mail_from)
