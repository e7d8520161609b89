"""Observability on the real local stack: metrics through the container, status with providers and the
queue, the rate-limited guard alerts, the report's read model, the archive, and the CLI commands."""

from __future__ import annotations

import csv
import gzip
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from adapters.archive_export import export_day, export_key, read_lines
from adapters.filesystem_archive import FilesystemArchive, key_day
from adapters.html_report import render_report
from adapters.log_notifier import LogNotifier
from outreach_core.domain.jobs import JobStatus
from outreach_core.services.alerting import FanOutNotifier, RateLimitedNotifier
from outreach_core.services.reporting import ReportService, mailbox_provider
from outreach_core.services.status import EVER_SENT
from outreach_core.telemetry import FEEDBACK_EVENT, SEND_OUTCOME
from tests.integration.small_world import World, small_world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    built = small_world(tmp_path_factory.mktemp("world"))
    built.run(days=12)
    yield built
    built.close()


def _jobs(world: World) -> list:  # type: ignore[type-arg]
    records = world.app.services.records()
    return [j for t in records.tenants() for j in records.jobs(t.id)]


def test_send_and_feedback_metrics_match_the_store(world: World) -> None:
    jobs = _jobs(world)
    sent = sum(1 for j in jobs if j.status in EVER_SENT)
    assert sent > 40
    assert world.metrics.total(SEND_OUTCOME, Outcome="sent") == sent
    bounced = sum(1 for j in jobs if j.status is JobStatus.BOUNCED)
    complained = sum(1 for j in jobs if j.status is JobStatus.COMPLAINED)
    assert bounced > 0 and complained > 0
    assert world.metrics.total(FEEDBACK_EVENT, EventType="bounce") == bounced
    assert world.metrics.total(FEEDBACK_EVENT, EventType="complaint") == complained
    assert world.metrics.total(FEEDBACK_EVENT, EventType="delivered") >= sent - bounced


def test_guard_alerts_go_through_the_rate_limited_fan_out(world: World) -> None:
    notifier = world.app.adapters.notifier()
    assert isinstance(notifier, RateLimitedNotifier)
    assert isinstance(notifier.inner, FanOutNotifier)
    log = next(c for c in notifier.inner.channels if isinstance(c, LogNotifier))
    kinds = [a.kind for a in log.sent]
    assert "identity.blocked" in kinds  # gus draws complaints in the small world
    assert len(kinds) == len({a.dedupe_key for a in log.sent})  # no repeats within the window
    state = world.app.adapters.store().query("T#globex", "ALERT#")
    assert state, "the rate limiter keeps its state in the store"


def test_status_has_provider_rows_tenant_rates_and_the_queue(world: World) -> None:
    report = world.app.services.status().report()
    assert report.queue is not None
    assert report.queue.dead == report.dead_letters
    providers = {p.provider: p.outcomes for p in report.providers}
    assert {"gmail", "microsoft", "yahoo", "mail.ru", "other"} <= set(providers)
    assert sum(o.sent for o in providers.values()) == sum(t.sent for t in report.tenants)
    assert providers["other"].bounced > 0  # gone.example always bounces and is no known provider
    assert providers["gmail"].bounced == 0
    acme = next(t for t in report.tenants if t.tenant_id == "acme")
    assert 0 < acme.outcomes.bounce_rate < 1
    assert acme.outcomes.delivered + acme.outcomes.bounced <= acme.outcomes.sent


def test_mailbox_provider_classification() -> None:
    assert mailbox_provider("a@GMail.com") == "gmail"
    assert mailbox_provider("hotmail.com") == "microsoft"
    assert mailbox_provider("x@yandex.ru") == "yandex"
    assert mailbox_provider("x@acme-corp.com") == "other"


def test_the_report_read_model_adds_up(world: World) -> None:
    data = ReportService(world.app.services.records(), world.clock).build(days=30)
    days = [d.day for d in data.days]
    assert days == [data.first_day + timedelta(days=i) for i in range(len(days))]  # no gaps
    assert len(days) >= 2
    assert sum(d.outcomes.sent for d in data.days) == data.totals.sent
    assert sum(d.outcomes.bounced for d in data.days) == data.totals.bounced
    identities = {r.key: r for r in data.identities}
    assert {"acme/ann", "acme/bob", "globex/gus"} <= set(identities)
    assert identities["globex/gus"].status == "blocked"
    assert identities["globex/gus"].outcomes.complained > 0
    assert sum(r.outcomes.sent for r in data.providers) == data.totals.sent
    only = ReportService(world.app.services.records(), world.clock).build(days=30, tenant_id="acme")
    assert [t.key for t in only.tenants] == ["acme"]
    assert all(r.key.startswith("acme/") for r in only.identities)


class _Charts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.charts: dict[str, int] = {}
        self.current: str | None = None
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "svg" and a.get("data-chart"):
            self.current = a["data-chart"]
            self.charts[self.current or ""] = 0
        elif self.current and "mark" in (a.get("class") or "").split():
            self.charts[self.current] += 1
        if tag in ("script", "link", "img", "iframe") or (a.get("src") or a.get("href")):
            self.external.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self.current = None


def test_the_html_report_is_self_contained_with_six_charts(world: World) -> None:
    html = render_report(ReportService(world.app.services.records(), world.clock).build())
    parser = _Charts()
    parser.feed(html)
    assert set(parser.charts) == {
        "funnel",
        "sends-per-day",
        "delivery-rate",
        "problem-rates",
        "per-identity",
        "per-provider",
    }
    assert all(count > 0 for count in parser.charts.values()), parser.charts
    assert parser.external == []  # no scripts, stylesheets, images or links to fetch
    assert "url(" not in html and "@import" not in html


def test_events_are_archived_per_tenant_and_day_in_batches(world: World) -> None:
    archive = world.app.adapters.archive()
    assert isinstance(archive, FilesystemArchive)
    keys = [k for k in archive.list_keys() if k.startswith("events/")]
    assert keys
    tenants = {k.split("/")[1] for k in keys}
    assert tenants == {"acme", "globex"}
    assert all(key_day(k) is not None and k.endswith(".jsonl.gz") for k in keys)
    lines = sum(len(gzip.decompress(archive.get(f"file://{k}")).splitlines()) for k in keys)
    assert lines > len(keys)  # batched: more events than objects


def test_daily_export_is_one_object_per_tenant_and_day(world: World, tmp_path: Path) -> None:
    archive = FilesystemArchive(tmp_path / "archive")
    records = world.app.services.records()
    day = next(j.updated_at.date() for j in _jobs(world) if j.tenant_id == "acme")
    results = export_day(records, archive, day)
    assert {r.tenant_id for r in results} <= {"acme", "globex"}
    acme = next(r for r in results if r.tenant_id == "acme")
    assert acme.key == export_key("acme", day) == f"exports/acme/{day:%Y/%m/%d}/jobs.jsonl.gz"
    rows = read_lines(archive, acme.ref)
    assert len(rows) == acme.jobs > 0
    assert all(row["tenant_id"] == "acme" for row in rows)
    assert read_lines(archive, f"{acme.ref}#0") == rows[:1]


def test_prune_removes_what_is_older_than_the_retention_by_key_day(tmp_path: Path) -> None:
    archive = FilesystemArchive(tmp_path / "a")
    archive.put("events/t1/2026/01/01/000000-aa.jsonl.gz", b"old")
    archive.put("events/t1/2026/03/31/000000-bb.jsonl.gz", b"recent")
    archive.put("exports/t1/2025/12/31/jobs.jsonl.gz", b"old")
    archive.put("notes/readme.txt", b"no day: kept")
    from datetime import UTC, datetime

    now = datetime(2026, 4, 15, tzinfo=UTC)
    assert archive.prune(timedelta(days=90), now, dry_run=True) == [
        "events/t1/2026/01/01/000000-aa.jsonl.gz",
        "exports/t1/2025/12/31/jobs.jsonl.gz",
    ]
    assert len(archive.list_keys()) == 4  # dry run deleted nothing
    archive.prune(timedelta(days=90), now)
    assert archive.list_keys() == ["events/t1/2026/03/31/000000-bb.jsonl.gz", "notes/readme.txt"]
    assert not (tmp_path / "a" / "exports").exists()  # empty directories go too


def test_a_key_that_would_leave_the_archive_is_refused_and_a_pruned_day_comes_back(tmp_path: Path) -> None:
    archive = FilesystemArchive(tmp_path / "a")
    for key in ("../outside.json", "events/../../outside.json", "/etc/passwd", "events/t1/../../.."):
        with pytest.raises(ValueError, match="escapes the archive"):
            archive.put(key, b"x")
    assert not (tmp_path / "outside.json").exists()
    archive.put("events/t1/2026/01/01/a.jsonl.gz", b"1")
    from datetime import UTC, datetime

    archive.prune(timedelta(days=1), datetime(2026, 4, 15, tzinfo=UTC))  # its directory is removed
    ref = archive.put("events/t1/2026/01/01/b.jsonl.gz", b"2")  # and made again on the next put
    assert archive.get(ref) == b"2"


def test_key_day() -> None:
    assert key_day("events/t1/2026/01/05/x.jsonl.gz") == date(2026, 1, 5)
    assert key_day("events/t1/2026/13/05/x") is None
    assert key_day("events/t1/x") is None


class _Result:
    def __init__(self, done: subprocess.CompletedProcess[str]) -> None:
        self.exit_code = done.returncode
        self.output = done.stdout + done.stderr


def _outreach(*args: str) -> _Result:
    """The real CLI in a child process (its logging set-up must not leak into this test process)."""
    code = "from entrypoints.cli.app import main; main()"
    env = {"COLUMNS": "200", "PATH": "/usr/bin:/bin", "OUTREACH_LOG_LEVEL": "ERROR"}
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120, env=env, check=False
    )
    return _Result(done)


def test_cli_status_prints_providers_and_the_queue(world: World) -> None:
    workspace = world.workspace
    result = _outreach("--workspace", str(workspace), "status")
    assert result.exit_code == 0, result.output
    assert "Per mailbox provider" in result.output
    assert "gmail" in result.output and "microsoft" in result.output
    assert "job queue:" in result.output and "dead letters 0" in result.output


def test_cli_report_writes_the_html_file(world: World, tmp_path: Path) -> None:
    workspace = world.workspace
    out = tmp_path / "r.html"
    result = _outreach("--workspace", str(workspace), "report", "--out", str(out), "--days", "60")
    assert result.exit_code == 0, result.output
    assert "report written" in result.output
    html = out.read_text(encoding="utf-8")
    assert html.count('class="chart"') == 6 and 'data-chart="funnel"' in html


def test_cli_cost_default_deployment_at_10k_is_under_5_dollars_and_itemised(tmp_path: Path) -> None:
    out = tmp_path / "cost_estimate.csv"
    result = _outreach("cost", "--emails-per-month", "10000", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "10,000 emails/month" in result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert list(rows[0]) == [
        "service",
        "item",
        "unit",
        "quantity",
        "unit_price",
        "monthly_usd",
        "assumption",
        "source_url",
        "price_date",
    ]
    total = rows[-1]
    assert total["service"] == "TOTAL"
    items = rows[:-1]
    assert float(total["monthly_usd"]) <= 5.0
    assert abs(sum(float(r["monthly_usd"]) for r in items) - float(total["monthly_usd"])) < 0.01
    assert {"ses", "lambda", "sqs", "sns", "dynamodb", "s3", "cloudwatch"} <= {r["service"] for r in items}
    assert all(r["source_url"].startswith("https://") and r["price_date"] for r in items)
    ses = next(r for r in items if r["service"] == "ses")
    assert float(ses["monthly_usd"]) == pytest.approx(1.0)


def test_cli_alert_kinds_lists_the_catalogue() -> None:
    result = _outreach("alerts", "kinds")
    assert result.exit_code == 0
    for kind in ("campaign.paused", "identity.blocked", "rate.lowered", "dlq.not_empty", "failover.engaged"):
        assert kind in result.output
    assert "budget.threshold" in result.output


def test_summary_json_of_status_carries_the_new_fields(world: World) -> None:
    workspace = world.workspace
    result = _outreach("--workspace", str(workspace), "status", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["queue"]["dead"] == 0
    assert {p["provider"] for p in payload["providers"]} >= {"gmail", "other"}


def test_rate_lines_break_on_days_without_sends() -> None:
    from datetime import date

    from adapters.html_report import rate_chart
    from outreach_core.services.reporting import DayRow, Outcomes

    def day(n: int, sent: int, bounced: int) -> DayRow:
        return DayRow(date(2026, 1, n), Outcomes(sent=sent, delivered=sent - bounced, bounced=bounced))

    days = [day(5, 10, 1), day(6, 10, 0), day(7, 0, 0), day(8, 0, 0), day(9, 10, 2), day(10, 10, 1)]
    svg = rate_chart("r", "r", days, [("bounced", "bounce_rate")], 0.05)
    assert svg.count("<polyline") == 2  # 5-6 Jan and 9-10 Jan, not bridged across the empty days
    assert svg.count("<circle") == 4
