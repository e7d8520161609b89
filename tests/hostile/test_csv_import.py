"""F9: CSV rows never vanish silently: a quote left open is reported with its line and the rows it
swallowed are imported on their own; a duplicated column refuses the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from outreach_core.domain.models import Lead
from outreach_core.services.leads import ImportFileError
from tests.harness import Harness, harness, seed_tenant


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    h = harness(tmp_path)
    seed_tenant(h, leads=[], start=False)
    return h


def emails(h: Harness) -> list[str]:
    return sorted(lead.email for lead in h.records.all(Lead, "acme"))


def test_f9_an_unterminated_quote_is_reported_and_the_rows_after_it_are_imported(h: Harness) -> None:
    raw = b'email,first_name,company\na@corp-a.com,Ann,"Acme\nb@corp-b.com,Bob,Beta\nc@corp-c.com,Cy,Gamma\n'
    report = h.leads.import_csv("acme", raw)
    assert report.rejected == 1 and report.problems[0].line == 2
    assert "quote left open" in report.problems[0].reason
    assert report.imported == 2 and emails(h) == ["b@corp-b.com", "c@corp-c.com"]


def test_f9_a_quote_closed_by_a_later_rows_quote_is_caught_too(h: Harness) -> None:
    raw = b'email,company\na@corp-a.com,"Acme\nb@corp-b.com,"Beta, Inc"\nc@corp-c.com,Gamma\n'
    report = h.leads.import_csv("acme", raw)
    assert [p.line for p in report.problems] == [2]
    assert emails(h) == ["b@corp-b.com", "c@corp-c.com"]


def test_f9_a_real_multi_line_value_is_still_a_value(h: Harness) -> None:
    raw = b'email,company\na@corp-a.com,"Acme\nNorth"\nb@corp-b.com,Beta\n'
    report = h.leads.import_csv("acme", raw)
    assert report.rejected == 0 and report.imported == 2


@pytest.mark.parametrize("header", ["email,email", "email,first_name,E-mail", "Email,company,email"])
def test_f9_a_duplicated_column_refuses_the_file(h: Harness, header: str) -> None:
    with pytest.raises(ImportFileError, match="appears twice"):
        h.leads.import_csv("acme", f"{header}\na@corp-a.com,b@corp-b.com,x\n".encode())
    assert emails(h) == []
