"""A real DNS server on 127.0.0.1 (dnslib) that answers from a zone a test writes and may change.

Names in the zone answer their records; a name that only appears as the owner of other types answers
NOERROR with no data (NoAnswer); a name nowhere in the zone is NXDOMAIN. CNAMEs are followed the
way a recursive resolver would hand them back (the chain, then the target's records).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dnslib import QTYPE, RCODE, RR
from dnslib.server import BaseResolver, DNSLogger, DNSServer


class Zone(BaseResolver):  # type: ignore[misc]
    def __init__(self, text: str = "") -> None:
        self._lock = threading.Lock()
        self.records: list[RR] = []
        self.queries: list[tuple[str, str]] = []
        if text:
            self.load(text)

    def load(self, text: str) -> None:
        """Replace the zone (BIND syntax, absolute names)."""
        with self._lock:
            self.records = list(RR.fromZone(text))

    def _matching(self, name: str, qtype: str) -> list[RR]:
        return [r for r in self.records if str(r.rname).lower() == name and QTYPE[r.rtype] == qtype]

    def resolve(self, request: Any, handler: Any) -> Any:
        reply = request.reply()
        name = str(request.q.qname).lower()
        qtype = QTYPE[request.q.qtype]
        with self._lock:
            self.queries.append((name, qtype))
            for _ in range(8):  # follow CNAMEs
                answers = self._matching(name, qtype)
                if answers:
                    for rr in answers:
                        reply.add_answer(rr)
                    return reply
                cname = self._matching(name, "CNAME")
                if not cname:
                    break
                reply.add_answer(cname[0])
                name = str(cname[0].rdata.label).lower()
            if not any(str(r.rname).lower() == name for r in self.records):
                reply.header.rcode = RCODE.NXDOMAIN
        return reply


@contextmanager
def dns_server(zone: Zone) -> Iterator[str]:
    """Serve the zone on 127.0.0.1 (UDP and TCP, one free port); yields "127.0.0.1:<port>"."""
    quiet = DNSLogger(log="-request,-reply,-truncated,-error,-recv,-send,-data", prefix=False)
    for attempt in range(20):  # the UDP port's number may be taken for TCP by another process
        udp = DNSServer(zone, address="127.0.0.1", port=0, logger=quiet)
        port = udp.server.server_address[1]
        try:
            tcp = DNSServer(zone, address="127.0.0.1", port=port, tcp=True, logger=quiet)
            break
        except OSError:
            udp.server.server_close()
            if attempt == 19:
                raise
    udp.start_thread()
    tcp.start_thread()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        udp.stop()
        tcp.stop()
