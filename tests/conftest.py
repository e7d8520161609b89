"""Shared fixtures. Nothing here touches the network: servers the tests need run on 127.0.0.1."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from tests.fakes import InMemoryStateStore, ManualClock


@pytest.fixture(autouse=True)
def _no_outbound_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Refuse connections to anything but loopback: a test that reaches the internet fails loudly."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else address
        if (
            isinstance(host, str)
            and host not in ("127.0.0.1", "::1", "localhost")
            and not host.startswith("/")
        ):
            raise OSError(f"network access to {host!r} is not allowed in tests")
        return real_connect(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guarded)
    yield


@pytest.fixture(autouse=True, scope="session")
def _quiet_logs() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))


@pytest.fixture(autouse=True)
def _no_cached_loggers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI configures structlog to cache each logger on first use (fast in a process that
    configures once); in one test session that would pin every module's logger to the first CLI
    test's configuration, and later tests could no longer capture what is logged."""
    real = structlog.configure

    def configure(**settings: object) -> None:
        real(**{**settings, "cache_logger_on_first_use": False})  # type: ignore[arg-type]

    monkeypatch.setattr(structlog, "configure", configure)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def memory_store() -> InMemoryStateStore:
    return InMemoryStateStore()


@pytest.fixture(scope="session")
def lambda_zip() -> Path:
    """dist/outreach-lambda-py3.11-x86_64.zip, built (and smoke-tested) when missing or stale."""
    from tests.lambda_zip import built_zip

    return built_zip()
