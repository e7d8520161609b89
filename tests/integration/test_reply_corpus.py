"""The corpus of real provider replies (tests/corpus), each through the production path.

SMTP: a real SmtpMailer hands a real message to aiosmtpd on 127.0.0.1, which answers with the corpus
line at its stage; the real SenderService (the application's container, default sending policy)
decides; then the job, the suppression lists, the limiter's AIMD and pause documents and the alerts
are read back and compared with the line's expected class and effect. SES: the bounce is built as
SES publishes it, parsed by the SES event adapter and applied by the real FeedbackService.

One test per source file; a failure lists every line of that file that was decided wrongly.
"""

from __future__ import annotations

import itertools
import json
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers

from adapters.dns_mx import StaticMxResolver
from adapters.ses_events import parse_event
from adapters.smtp_mailer import SmtpMailer
from outreach_core.domain.jobs import JobStatus, MessageJob
from outreach_core.policies.responses import ResponseClass
from tests.harness import Harness, harness, seed_tenant
from tests.smtp_sink import SinkHandler, start_sink

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
REPLY_FILES = sorted((CORPUS / "replies").glob("*.toml"))
# Where the corpus's business domains receive mail: their MX decides the provider (ADR 0202).
MX = {
    "contoso.example": "contoso-example.mail.protection.outlook.com",
    "workspace-customer.example": "aspmx.l.google.com",
    "pp-customer.example": "mx0a-00123401.pphosted.com",
    "mc-customer.example": "eu-smtp-inbound-1.mimecast.com",
    "gmx.net": "mx00.gmx.net",
    "web.de": "mx-ha03.web.de",
}
STAGES = ("MAIL FROM", "RCPT TO", "end of DATA")
ALERT_OF = {ResponseClass.AUTH_FAILURE: "identity.auth_failed", ResponseClass.CONTENT: "content.rejected"}


@dataclass(frozen=True)
class Expected:
    status: JobStatus
    attempts: int | None  # None: not looked at (the job ended)
    cuts: int
    suppressed: bool
    paused: bool
    alerts: frozenset[str]


def expected(effect: str, cls: ResponseClass) -> Expected:
    class_alert = frozenset({ALERT_OF[cls]}) if cls in ALERT_OF else frozenset()
    table = {
        "retry-slower": Expected(JobStatus.QUEUED, 0, 1, False, False, frozenset({"rate.lowered"})),
        "retry": Expected(JobStatus.QUEUED, 1, 0, False, False, frozenset()),
        "retry-and-alert": Expected(JobStatus.QUEUED, 1, 0, False, False, class_alert),
        # Six hours is past the queue's longest delay: the job is parked with a wake-up timer.
        "soft-retry": Expected(JobStatus.PLANNED, 1, 0, False, False, frozenset()),
        "suppress": Expected(JobStatus.BOUNCED, None, 0, True, False, frozenset()),
        "pause": Expected(JobStatus.QUEUED, 0, 0, False, True, frozenset({"identity.provider_paused"})),
        "pause-and-alert": Expected(
            JobStatus.QUEUED, 0, 0, False, True, frozenset({"identity.provider_paused"}) | class_alert
        ),
        "fail": Expected(JobStatus.FAILED, None, 0, False, False, frozenset()),
        "fail-and-alert": Expected(JobStatus.FAILED, None, 0, False, False, class_alert),
    }
    return table[effect]


class ScriptedSink(SinkHandler):
    """aiosmtpd answering the next send with one scripted reply at one stage (the rest accepted)."""

    def __init__(self) -> None:
        super().__init__()
        self.answer: tuple[str, str] = ("", "")

    def _reply(self, stage: str) -> str | None:
        when, text = self.answer
        return text.replace("\n", "\r\n") if when == stage else None

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        scripted = self._reply("MAIL FROM")
        if scripted:
            return scripted
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        scripted = self._reply("RCPT TO")
        if scripted:
            return scripted
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return self._reply("end of DATA") or "250 2.0.0 Message accepted for delivery"


@pytest.fixture(scope="module")
def sink() -> Iterator[tuple[ScriptedSink, int]]:
    handler = ScriptedSink()
    controller = start_sink(handler)
    yield handler, controller.port
    controller.stop()


def world(tmp_path: Path, name: str, domain: str, mailer: Any = None) -> tuple[Harness, str]:
    h = harness(tmp_path / name, policy=None)  # the default sending policy, as deployed
    h.app.adapters.mx_resolver.override(providers.Object(StaticMxResolver(MX)))
    if mailer is not None:
        h.app.adapters.mailer.override(providers.Object(mailer))
    email = f"ann@{domain}"
    seed_tenant(h, identities=1, steps=1, leads=[email])
    return h, email


def send_once(h: Harness) -> MessageJob:
    h.planner.tick()
    h.clock.advance(timedelta(minutes=6))
    [message] = h.queue.receive(1)
    result = h.sender.handle(message)
    if not result.redeliver:
        h.queue.ack(message.receipt)
    [job] = h.records.jobs("acme")
    return job


def observed(h: Harness, job: MessageJob, email: str) -> Expected:
    limiter = h.app.services.limiter()
    now_us = int(h.clock.now().timestamp() * 1e6)
    docs = [limiter.identity_state("acme", "id0")] + [d for _, d in limiter.provider_state("acme", "id0")]
    return Expected(
        status=job.status,
        attempts=job.attempts,
        cuts=sum(1 for d in docs if float((d.get("aimd") or {}).get("factor", 1.0)) < 1.0),
        suppressed=h.records.suppression_for("acme", email) is not None,
        paused=any(int(d.get("paused_until", 0)) > now_us for _, d in limiter.provider_state("acme", "id0")),
        alerts=frozenset(a.kind for a in h.app.adapters.log_notifier().sent),
    )


def differences(want: Expected, got: Expected) -> list[str]:
    out = []
    for name in ("status", "cuts", "suppressed", "paused", "alerts"):
        if getattr(want, name) != getattr(got, name):
            out.append(f"{name} {getattr(got, name)!r}, expected {getattr(want, name)!r}")
    if want.attempts is not None and want.attempts != got.attempts:
        out.append(f"attempts {got.attempts}, expected {want.attempts}")
    return out


@pytest.mark.parametrize("path", REPLY_FILES, ids=[p.stem for p in REPLY_FILES])
def test_every_reply_of_the_source_is_decided_right(
    path: Path, sink: tuple[ScriptedSink, int], tmp_path: Path
) -> None:
    handler, port = sink
    spec = tomllib.loads(path.read_text(encoding="utf-8"))
    assert spec.get("url") and spec.get("source"), f"{path.name}: every corpus file names its source"
    replies = spec["reply"]
    wrong: list[str] = []
    for n, entry in enumerate(replies):
        cls = ResponseClass(entry["class"])
        stage = entry.get("stage", "RCPT TO")
        assert stage in STAGES, f"{path.name} #{n}: stage {stage!r}"
        h, email = world(tmp_path, f"{path.stem}-{n}", entry.get("domain", spec["domain"]))
        h.app.adapters.mailer.override(providers.Object(SmtpMailer("127.0.0.1", port, h.clock)))
        handler.answer = (stage, entry["reply"])
        before = len(handler.messages)
        job = send_once(h)
        got = observed(h, job, email)
        problems = differences(expected(entry["effect"], cls), got)
        if not job.status_reason.startswith(f"{cls.value}: "):
            problems.insert(0, f"class {job.status_reason.split(':', 1)[0]!r}, expected {cls.value!r}")
        if entry["effect"] == "soft-retry" and job.scheduled_at < h.clock.now() + timedelta(hours=6):
            problems.append("a mailbox-full retry comes hours later, not at once")
        if len(handler.messages) != before:
            problems.append("the refused message was delivered anyway")
        if problems:
            wrong.append(f"#{n} {entry['reply'][:70]!r}: " + "; ".join(problems))
    assert not wrong, f"{path.name}: {len(wrong)} of {len(replies)} decided wrongly:\n" + "\n".join(wrong)


# --- the SES bounce path ---------------------------------------------------------------------------


def ses_bounce(job: MessageJob, email: str, entry: dict[str, Any], n: int) -> str:
    recipient: dict[str, Any] = {"emailAddress": email, "action": "failed"}
    if entry.get("status"):
        recipient["status"] = entry["status"]
    if entry.get("diagnostic"):
        recipient["diagnosticCode"] = entry["diagnostic"]
    return json.dumps(
        {
            "eventType": "Bounce",
            "bounce": {
                "bounceType": entry["type"],
                "bounceSubType": entry["subtype"],
                "bouncedRecipients": [recipient],
                "timestamp": "2026-01-05T09:30:00.000Z",
                "feedbackId": f"0100-corpus-{n}",
            },
            "mail": {
                "timestamp": "2026-01-05T09:06:00.000Z",
                "messageId": job.provider_message_id,
                "destination": [email],
                "tags": {"tenant": ["acme"], "campaign": [job.campaign_id], "job": [job.job_id]},
            },
        }
    )


def ses_expected(effect: str) -> dict[str, Any]:
    none = {"suppressed": False, "counted": False, "soft": 0, "cuts": 0, "paused": False, "alerts": set()}
    table: dict[str, dict[str, Any]] = {
        "nothing": {},
        "suppress": {"suppressed": True},
        "suppress-and-count": {"suppressed": True, "counted": True},
        "pause-and-count": {"paused": True, "counted": True, "alerts": {"identity.provider_paused"}},
        "pause-alert-and-count": {
            "paused": True,
            "counted": True,
            "alerts": {"identity.provider_paused", "identity.auth_failed"},
        },
        "rate-cut": {"cuts": 1, "alerts": {"rate.lowered"}},
        "soft-bounce": {"soft": 1},
        "soft-bounce-and-count": {"soft": 1, "counted": True},
        "alert": {"alerts": {"content.rejected"}},
    }
    return {**none, **table[effect]}


def test_every_ses_bounce_type_is_decided_right_on_the_feedback_path(tmp_path: Path) -> None:
    spec = tomllib.loads((CORPUS / "ses_bounces.toml").read_text(encoding="utf-8"))
    assert spec["url"].startswith("https://docs.aws.amazon.com/ses/")
    wrong: list[str] = []
    for n, entry in enumerate(spec["bounce"]):
        h, email = world(tmp_path, f"ses-{n}", "gmail.com")
        job = send_once(h)
        assert job.status is JobStatus.SENT
        [result] = h.feedback.handle(parse_event(ses_bounce(job, email, entry, n)))
        assert result.applied
        window = h.app.services.guard().window(
            "acme", "campaign", "spring", h.app.services.guard().rules.campaign
        )
        state = observed(h, h.records.jobs("acme")[0], email)
        soft = h.records.state("acme", f"SOFT#{_hash(email)}")[0].get("count", 0)
        got = {
            "suppressed": state.suppressed,
            "counted": window.count("b") == 1,
            "soft": soft,
            "cuts": state.cuts,
            "paused": state.paused,
            "alerts": set(state.alerts),
        }
        want = ses_expected(entry["effect"])
        problems = [f"{k} {got[k]!r}, expected {want[k]!r}" for k in want if got[k] != want[k]]
        if problems:
            wrong.append(
                f"#{n} {entry['type']}/{entry['subtype']} {entry.get('status', '')}: " + "; ".join(problems)
            )
    assert not wrong, f"{len(wrong)} SES bounces decided wrongly:\n" + "\n".join(wrong)


def _hash(email: str) -> str:
    from outreach_core.domain.ids import email_hash

    return email_hash(email)


@pytest.mark.parametrize(
    ("reply", "suppressed"),
    [
        ("452 4.2.2 The email account that you tried to reach is over quota. - gsmtp", False),
        ("552 5.2.2 The email account that you tried to reach is over quota and inactive. - gsmtp", True),
    ],
    ids=["4xx", "5xx"],
)
def test_mailbox_full_follows_the_soft_bounce_rule(
    reply: str, suppressed: bool, sink: tuple[ScriptedSink, int], tmp_path: Path
) -> None:
    """Retried hours apart without a rate cut, `soft_bounces_before_suppress` times; then the job ends.
    Only a permanent (5xx) mailbox-full suppresses the address: a 4xx never does."""
    handler, port = sink
    h, email = world(tmp_path, "soft", "gmail.com")
    h.app.adapters.mailer.override(providers.Object(SmtpMailer("127.0.0.1", port, h.clock)))
    handler.answer = ("RCPT TO", reply)
    limit = h.app.services.suppression().policy.soft_bounces_before_suppress
    job = send_once(h)
    times = [h.clock.now()]
    while job.status is JobStatus.PLANNED:
        h.clock.set(job.scheduled_at)
        h.planner.tick()  # the wake-up timer puts it back in the queue
        h.clock.advance(timedelta(seconds=1))
        for message in h.queue.receive(10):
            h.sender.handle(message)
            h.queue.ack(message.receipt)
            times.append(h.clock.now())
        [job] = h.records.jobs("acme")
    assert job.status is JobStatus.FAILED and job.attempts == limit == len(times)
    assert all(later - earlier >= timedelta(hours=6) for earlier, later in itertools.pairwise(times))
    assert (h.records.suppression_for("acme", email) is not None) is suppressed
    assert observed(h, job, email).cuts == 0
