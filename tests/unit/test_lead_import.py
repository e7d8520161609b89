"""Lead CSV import: good rows in, each bad row reported with its line number and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from outreach_core.domain.models import Lead
from outreach_core.domain.suppression import SuppressionReason
from outreach_core.records import TimerKind
from outreach_core.services.leads import ImportFileError
from tests.harness import Harness, harness, seed_tenant


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    h = harness(tmp_path)
    seed_tenant(h, leads=[], start=False)
    return h


def lines(*rows: str) -> bytes:
    return ("\n".join(rows) + "\n").encode("utf-8")


def test_a_file_with_every_kind_of_bad_row_imports_the_good_ones(h: Harness) -> None:
    h.app.services.suppression().suppress(
        "acme", "gone@corp-one.com", SuppressionReason.HARD_BOUNCE, source="test", at=h.clock.now()
    )
    good = b"ok1@corp-one.com,Ann,Corp\n"
    cp1251 = "bad-enc@corp-one.com,Иван,Вектор\n".encode("cp1251")
    raw = (
        b"\xef\xbb\xbf"  # a BOM, as Excel writes it
        + b"email,first_name,company\n"
        + good  # line 2: fine
        + b"not-an-address,Bob,Corp\n"  # line 3: bad address
        + b"OK1@Corp-One.com,Ann again,Corp\n"  # line 4: duplicate of line 2 (case)
        + b"short@corp-one.com,OnlyTwo\n"  # line 5: a missing column
        + b"gone@corp-one.com,Gone,Corp\n"  # line 6: suppressed
        + cp1251  # line 7: not UTF-8
        + "ok2@corp-two.com,Мария,ООО «Вектор»\n".encode()  # line 8: fine, Cyrillic
        + b",NoEmail,Corp\n"  # line 9: missing email
    )
    report = h.leads.import_csv("acme", raw)
    assert report.imported == 2
    by_line = {p.line: p.reason for p in report.problems}
    assert sorted(by_line) == [3, 4, 5, 6, 7, 9]
    assert "bad address" in by_line[3]
    assert by_line[4] == "duplicate of line 2"
    assert "3 fields" not in by_line[5] and "2 fields" in by_line[5]
    assert "suppressed (hard_bounce)" in by_line[6]
    assert "not UTF-8" in by_line[7]
    assert by_line[9] == "missing email"
    leads = {lead.email: lead for lead in h.records.all(Lead, "acme")}
    assert set(leads) == {"ok1@corp-one.com", "ok2@corp-two.com"}
    assert leads["ok2@corp-two.com"].company == "ООО «Вектор»"


def test_no_email_column_refuses_the_whole_file_and_writes_nothing(h: Harness) -> None:
    with pytest.raises(ImportFileError, match="no 'email' column"):
        h.leads.import_csv("acme", lines("name,company", "Ann,Corp"))
    assert h.records.all(Lead, "acme") == []


def test_custom_columns_source_and_basis_are_kept(h: Harness) -> None:
    raw = lines(
        "E-mail,First Name,Industry,lawful_basis,source,timezone",
        "a@corp-one.com,Ann,retail,consent,expo-2025,Europe/Berlin",
    )
    report = h.leads.import_csv("acme", raw, source="fallback")
    assert report.imported == 1
    [lead] = h.records.all(Lead, "acme")
    assert lead.custom == {"industry": "retail"}
    assert (lead.source, lead.lawful_basis.value, lead.timezone) == ("expo-2025", "consent", "Europe/Berlin")


def test_bad_time_zone_and_bad_basis_are_row_errors(h: Harness) -> None:
    raw = lines("email,timezone,lawful_basis", "a@corp-one.com,Mars/Base,", "b@corp-one.com,,because")
    report = h.leads.import_csv("acme", raw)
    assert report.imported == 0
    reasons = {p.line: p.reason for p in report.problems}
    assert "unknown time zone" in reasons[2] and "lawful_basis" in reasons[3]


def test_importing_again_reports_rows_already_in(h: Harness) -> None:
    raw = lines("email", "a@corp-one.com")
    assert h.leads.import_csv("acme", raw).imported == 1
    again = h.leads.import_csv("acme", raw)
    assert again.imported == 0 and again.problems[0].reason == "already imported for this tenant"


def test_a_quoted_field_with_a_newline_keeps_line_numbers_right(h: Harness) -> None:
    raw = lines("email,company", 'a@corp-one.com,"Two', 'lines"', "bad,Corp")
    report = h.leads.import_csv("acme", raw)
    assert report.imported == 1 and [p.line for p in report.problems] == [4]


def test_leads_joining_a_running_campaigns_list_are_enrolled(h: Harness) -> None:
    h.leads.import_csv("acme", lines("email", "first@corp-one.com"))
    h.admin.start_campaign("acme", "spring")
    report = h.leads.import_csv("acme", lines("email", "late@corp-one.com"))
    assert report.enrolled == 1
    timers = h.records.timers_due("acme", TimerKind.STEP, h.clock.now())
    assert len(timers) == 2


def test_the_same_address_in_two_tenants_is_two_leads(h: Harness) -> None:
    h.admin.add_tenant("other", "Other", "2 High Street, Leeds")
    h.leads.import_csv("acme", lines("email", "shared@corp-one.com"))
    assert h.leads.import_csv("other", lines("email", "shared@corp-one.com")).imported == 1
