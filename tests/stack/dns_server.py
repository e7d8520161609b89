"""A DNS server on 127.0.0.1 (dnslib) answering MX from a table: the resolver the deployed functions use
in the stack test, so `OUTREACH_MX_RESOLVER=dns` resolves without leaving the machine."""

from __future__ import annotations

from types import TracebackType

from dnslib import MX, QTYPE, RCODE, RR
from dnslib.server import BaseResolver, DNSLogger, DNSServer


class _Table(BaseResolver):  # type: ignore[misc]
    def __init__(self, mx: dict[str, str]) -> None:
        self.mx = {name.lower().rstrip("."): host for name, host in mx.items()}
        self.queries: list[str] = []

    def resolve(self, request, handler):  # type: ignore[no-untyped-def]
        reply = request.reply()
        name = str(request.q.qname).lower().rstrip(".")
        self.queries.append(f"{QTYPE[request.q.qtype]} {name}")
        host = self.mx.get(name)
        if host is None:
            reply.header.rcode = RCODE.NXDOMAIN
        elif request.q.qtype == QTYPE.MX:
            reply.add_answer(RR(request.q.qname, QTYPE.MX, rdata=MX(host, 10), ttl=3600))
        return reply


class MxServer:
    def __init__(self, mx: dict[str, str]) -> None:
        self.table = _Table(mx)
        self._server = DNSServer(
            self.table,
            address="127.0.0.1",
            port=0,
            logger=DNSLogger("-request,-reply,-truncated,-error,-recv,-send,-data"),
        )

    def __enter__(self) -> MxServer:
        self._server.start_thread()
        return self

    @property
    def address(self) -> str:
        host, port = self._server.server.server_address[:2]
        return f"{host}:{port}"

    def __exit__(self, *exc: object | TracebackType) -> None:
        self._server.stop()
