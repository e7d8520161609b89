"""What a lead import asks of SQLite, counted (a deterministic figure; its speed is measured by
bench/bench_planner.py): per batch one read-ahead of the suppression and do-not-contact entries and
one transaction that reads the leads' versions and inserts them by one `executemany`: about 1.02
statements a row at 500 a batch (SQLite's trace counts each row of an executemany), against 3.0
before the batched write (a SAVEPOINT, an INSERT and a RELEASE a lead)."""

from __future__ import annotations

import sqlite3
from collections import Counter
from math import ceil
from pathlib import Path

import pytest
from dependency_injector import providers

from adapters import sqlite_store
from entrypoints.container import build
from entrypoints.settings import Settings
from outreach_core.domain.models import Lead
from outreach_core.services import leads
from tests.fakes import ManualClock

CHUNK, DOMAINS = 500, 40  # a smaller batch than the import's (quicker), the same statements a batch
BATCHES = [CHUNK, CHUNK, 200]  # two whole batches and the rest
ROWS = sum(BATCHES)
PER_SELECT = sqlite_store._KEYS_PER_SELECT


def test_an_import_costs_one_insert_a_row_and_a_few_statements_a_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    statements: Counter[str] = Counter()
    connect = sqlite_store.connect

    def traced(path: str | Path) -> sqlite3.Connection:
        conn = connect(path)
        conn.set_trace_callback(lambda sql: statements.update([sql.split(None, 1)[0].upper()]))
        return conn

    monkeypatch.setattr(sqlite_store, "connect", traced)  # the state store's connection only
    monkeypatch.setattr(leads, "CHUNK", CHUNK)
    app = build(Settings(workspace=tmp_path / "ws", mx_resolver="offline"))
    app.adapters.clock.override(providers.Object(ManualClock()))
    app.services.admin().add_tenant("acme", "Acme", "1 Main Street, Springfield")
    csv = "email,first_name\n" + "".join(f"p{n}@corp-{n % DOMAINS}.example,P{n}\n" for n in range(ROWS))
    statements.clear()

    report = app.services.leads().import_csv("acme", csv.encode())
    counted = Counter(statements)

    assert report.imported == ROWS and not report.problems
    assert len(app.services.records().all(Lead, "acme")) == ROWS
    # Per batch, at most PER_SELECT keys a SELECT: the read-ahead of the tenant's suppression and
    # do-not-contact keys and of the global suppression keys, then the leads' versions.
    read_ahead = sum(ceil((rows + DOMAINS) / PER_SELECT) + ceil(rows / PER_SELECT) for rows in BATCHES)
    versions = sum(ceil(rows / PER_SELECT) for rows in BATCHES)
    # Once per import: the tenant, its hygiene policy, its running campaigns; the audit entry's write.
    assert counted == {
        "SELECT": 3 + read_ahead + versions,
        "INSERT": ROWS + 1,
        "BEGIN": len(BATCHES) + 1,
        "COMMIT": len(BATCHES) + 1,
    }
    assert sum(counted.values()) / ROWS < 1.03
