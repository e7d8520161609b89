"""MxResolver over dnspython, with an in-process cache (deliverability.md §4: cache for hours)."""

from __future__ import annotations

import threading
import time

import dns.exception
import dns.resolver
import structlog

log = structlog.get_logger(__name__)


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
        self._cache: dict[str, tuple[float, list[tuple[int, str]]]] = {}
        self._lock = threading.Lock()

    def _dns(self) -> dns.resolver.Resolver:
        if self._resolver is None:  # built on first use: reading resolv.conf is IO
            self._resolver = dns.resolver.Resolver()
        return self._resolver

    def mx(self, domain: str) -> list[tuple[int, str]]:
        domain = domain.lower().rstrip(".")
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(domain)
        if cached is not None and cached[0] > now:
            return cached[1]
        records, ttl = self._lookup(domain)
        with self._lock:
            self._cache[domain] = (now + ttl, records)
        return records

    def _lookup(self, domain: str) -> tuple[list[tuple[int, str]], float]:
        try:
            answer = self._dns().resolve(domain, "MX", lifetime=self.lifetime_s)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return [], self.ttl_s  # a definite "no MX": cache it as long as a positive answer
        except (dns.resolver.NoNameservers, dns.exception.Timeout, dns.exception.DNSException) as exc:
            log.warning("mx.lookup_failed", domain=domain, error=type(exc).__name__)
            return [], self.negative_ttl_s
        records = [
            (int(rdata.preference), str(rdata.exchange).rstrip(".").lower())
            for rdata in answer
            if str(rdata.exchange).rstrip(".")  # "0 ." is a null MX (RFC 7505): no mail at all
        ]
        return records, self.ttl_s


class StaticMxResolver:
    """Offline: answers from a table (domain -> MX host). The demo and the simulator use it, so they
    never touch DNS; unknown domains have no MX and count as the "other" provider."""

    def __init__(self, table: dict[str, str] | None = None) -> None:
        self.table = {k.lower(): v for k, v in (table or {}).items()}

    def mx(self, domain: str) -> list[tuple[int, str]]:
        host = self.table.get(domain.lower().rstrip("."))
        return [(10, host)] if host else []
