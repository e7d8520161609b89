"""A lead import across batches: rows are written CHUNK at a time, and a duplicate the import no longer
remembers (past _SEEN_MAX rows) is told by the store, from an earlier line or an earlier import."""

from __future__ import annotations

from pathlib import Path

import pytest

from outreach_core.domain.models import Lead
from outreach_core.services import leads
from tests.harness import Harness, harness, seed_tenant


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    h = harness(tmp_path)
    seed_tenant(h, leads=[], start=False)
    return h


def test_duplicates_past_the_remembered_rows_are_told_by_the_store(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h.leads.import_csv("acme", b"email\nold@corp-one.com\n")
    h.clock.advance(60)
    monkeypatch.setattr(leads, "CHUNK", 3)
    monkeypatch.setattr(leads, "_SEEN_MAX", 1)  # only the first row's address is remembered
    rows = ["a@corp-one.com", "b@corp-one.com", "b@corp-one.com", "c@corp-one.com", "b@corp-one.com"]
    rows.append("old@corp-one.com")
    report = h.leads.import_csv("acme", ("email\n" + "\n".join(rows) + "\n").encode())
    assert report.imported == 3
    assert [(p.line, p.reason) for p in report.problems] == [
        (4, "duplicate of an earlier line"),  # its first copy is in the same batch
        (6, "duplicate of an earlier line"),  # ... in the batch before
        (7, "already imported for this tenant"),
    ]
    assert sorted(lead.email for lead in h.records.all(Lead, "acme")) == sorted(set(rows))
