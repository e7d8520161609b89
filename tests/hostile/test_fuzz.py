"""Fuzz and property suites (hypothesis) over everything that takes outside input: template parsing
and rendering, header composition, CSV import, the HTTP endpoints and SNS envelopes.

The contract each checks: no traceback (only the one documented error type), no half-written state,
and what comes out is well-formed (one header block, canonical addresses, a 4xx rather than a 500)."""

from __future__ import annotations

import gzip
import itertools
import json
import socket
import string
from datetime import UTC, datetime
from email import message_from_bytes
from email.policy import default
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from adapters import http_server
from adapters.feedback_ingest import EventIngestor
from adapters.http_server import LocalHttpServer
from adapters.mime import to_bytes
from adapters.sns import SnsEndpoint, SnsVerifier
from adapters.web import WebApp, WebRequest
from outreach_core.domain.addresses import canonical_email, is_single_line
from outreach_core.domain.jobs import MessageJob
from outreach_core.domain.mail import MailUnencodable
from outreach_core.domain.models import (
    Campaign,
    CampaignStatus,
    CampaignStep,
    Lead,
    SenderIdentity,
    Template,
    Tenant,
)
from outreach_core.records import Records, TimerKind
from outreach_core.rendering.compose import Thread, compose
from outreach_core.rendering.templating import TemplateError, parse, render
from outreach_core.services.leads import ImportFileError, LeadImportService
from outreach_core.services.unsubscribe import UnsubscribeService
from tests.fakes import T0, InMemoryArchive, InMemoryStateStore, ManualClock
from tests.feedback_world import SECRET, build_world
from tests.harness import Harness, harness, seed_tenant
from tests.sns_signing import CERT_URL, TOPIC, FakeFetcher, make_certificate, new_key, notification
from tests.sns_signing import sign as sns_sign

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Characters that matter to each parser, plus arbitrary text around them.
_TEMPLATE_BITS = st.sampled_from(["{", "}", "|", "{{", "}}", "{{first_name}}", "{{RANDOM|a|b}}",
                                  "{{x|y}}", "\x00", "\r", "\n", "\t", "\u2028", "é", "Ж", " ", "a", "b",
                                  "default:"])  # fmt: skip
template_text = st.lists(st.one_of(_TEMPLATE_BITS, st.text(max_size=3)), max_size=40).map("".join)
_HEADERISH = st.sampled_from(["\r\n", "\n", "\r", "Bcc: v@evil.example", ":", "<", ">", '"', "=?utf-8?q?x?=",
                              "\x00", "\u2028", "Ж", "é", " ", "\t", "@", ","])  # fmt: skip
header_text = st.lists(st.one_of(_HEADERISH, st.text(max_size=4)), max_size=12).map("".join)


# --- templates --------------------------------------------------------------------------------------


@FUZZ
@given(text=template_text, spintax=st.booleans(), first=header_text, seed=st.integers(0, 2**64 - 1))
def test_templates_parse_and_render_or_say_why(text: str, spintax: bool, first: str, seed: int) -> None:
    try:
        parsed = parse("text", text, spintax=spintax)
    except TemplateError as exc:
        assert str(exc).startswith("text: ") and "\n" not in str(exc)
        return
    try:
        out = render(parsed, {"first_name": first}, seed)
    except TemplateError as exc:
        assert "is empty for this lead" in str(exc)
        return
    assert out == render(parsed, {"first_name": first}, seed), "the same seed, the same variant"
    if "\x00" not in first:
        assert "\x00" not in out, "control characters come from lead values only, never the renderer"


@pytest.fixture(scope="module")
def admin_h(tmp_path_factory: pytest.TempPathFactory) -> Harness:
    h = harness(tmp_path_factory.mktemp("templates"))
    seed_tenant(h, start=False, leads=[])
    return h


_ids = itertools.count()


@FUZZ
@given(subject=template_text, text=template_text)
def test_template_add_stores_whole_templates_or_nothing(admin_h: Harness, subject: str, text: str) -> None:
    template_id = f"fz{next(_ids)}"
    try:
        admin_h.admin.add_template("acme", template_id, subject, text)
    except ValidationError as exc:  # the CLI prints each error as `loc: msg` on one line
        assert exc.errors() and admin_h.records.find(Template, "acme", template_id) is None
        return
    except (TemplateError, ValueError) as exc:
        assert "\n" not in str(exc).strip()
        assert admin_h.records.find(Template, "acme", template_id) is None
        return
    stored = admin_h.records.get(Template, "acme", template_id)
    assert (stored.subject, stored.text) == (subject, text)
    assert is_single_line(subject.replace("\t", " ")), "a subject is one line"


# --- header composition ------------------------------------------------------------------------------

NOW = datetime(2026, 1, 5, 9, tzinfo=UTC)
TENANT = Tenant(id="acme", name="Acme", postal_address="1 Main St, Springfield", created_at=NOW)
JOB = MessageJob(job_id="c_l-1_1", tenant_id="acme", campaign_id="c", lead_id="l-1", step=1, template_id="t",
                 scheduled_at=NOW, idempotency_key="k1", updated_at=NOW)  # fmt: skip


def header_names(raw: bytes) -> list[str]:
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    return [line.split(":", 1)[0] for line in head.split("\r\n") if line and line[0] not in " \t"]


def plain_headers() -> list[str]:
    """The header names of a message composed for a lead with nothing odd about it."""
    lead = Lead(
        tenant_id="acme", id="l-1", email="ivan@mail.ru", first_name="Ivan", source="t", imported_at=NOW
    )
    identity = SenderIdentity(tenant_id="acme", id="ann", email="ann@acme-mail.com", created_at=NOW)
    template = Template(tenant_id="acme", id="t", subject="Hello", text="Hi")
    email = compose(tenant=TENANT, identity=identity, lead=lead, template=template, job=JOB,
                    unsubscribe_url="https://u.example/u/tok", thread=None, secret="s")  # fmt: skip
    return header_names(to_bytes(email, NOW))


@FUZZ
@given(first=header_text, last=header_text, company=header_text, name=header_text,
       subject=st.sampled_from(["Question for {{company}}", "{{first_name|there}}, {Hi|Hello}",
                                "{{last_name|x}} {{company|y}}"]))  # fmt: skip
def test_composed_headers_are_one_block_whatever_the_lead_says(
    first: str, last: str, company: str, name: str, subject: str
) -> None:
    lead = Lead(tenant_id="acme", id="l-1", email="ivan@mail.ru", first_name=first, last_name=last,
                company=company, source="t", imported_at=NOW)  # fmt: skip
    assume(is_single_line(name))  # `identity add` refuses the others
    identity = SenderIdentity(tenant_id="acme", id="ann", email="ann@acme-mail.com", display_name=name,
                              created_at=NOW)  # fmt: skip
    template = Template(tenant_id="acme", id="t", subject=subject, text="Hi {{first_name|there}}")
    try:
        email = compose(tenant=TENANT, identity=identity, lead=lead, template=template, job=JOB,
                        unsubscribe_url="https://u.example/u/tok", thread=None, secret="s")  # fmt: skip
        raw = to_bytes(email, NOW)
    except (TemplateError, MailUnencodable):
        return  # a clear refusal: the job fails, nothing was handed over
    assert header_names(raw) == plain_headers(), "the same header lines, in the same order, and no others"
    parsed = message_from_bytes(raw, policy=default)
    assert parsed["To"].addresses[0].addr_spec == "ivan@mail.ru"
    assert parsed["List-Unsubscribe"] == "<https://u.example/u/tok>"


@FUZZ
@given(subject=header_text, message_id=st.one_of(st.none(), header_text))
def test_a_thread_subject_cannot_break_the_header_either(subject: str, message_id: str | None) -> None:
    lead = Lead(tenant_id="acme", id="l-1", email="ivan@mail.ru", source="t", imported_at=NOW)
    identity = SenderIdentity(tenant_id="acme", id="ann", email="ann@acme-mail.com", created_at=NOW)
    template = Template(tenant_id="acme", id="t", subject="", text="Following up.")
    try:
        email = compose(tenant=TENANT, identity=identity, lead=lead, template=template, job=JOB,
                        unsubscribe_url="https://u.example/u/tok", thread=Thread(message_id, subject),
                        secret="s")  # fmt: skip
        raw = to_bytes(email, NOW)
    except (TemplateError, ValueError, MailUnencodable):
        return
    assert "Bcc" not in header_names(raw) and "Subject" in header_names(raw)


# --- CSV import --------------------------------------------------------------------------------------

_CELLS = st.sampled_from(["a@corp-a.com", "b@corp-b.com", "idn@bücher.de", "idn@xn--bcher-kva.de", "x", "",
                          '"', '""', '"q,"', "Ann", "Acme\nInc", "\r", "\x00", "Europe/Paris", "Mars/Base",
                          "consent", "\xff", "e-mail", "email", "first_name", " "])  # fmt: skip
csv_line = st.lists(_CELLS, min_size=1, max_size=5).map(",".join)
csv_file = st.tuples(st.sampled_from(["email,first_name,timezone", "email", "email,email", "name,company",
                                      "E-mail,tz,lawful_basis"]),
                     st.lists(csv_line, max_size=12),
                     st.sampled_from(["\n", "\r\n"]))  # fmt: skip


@FUZZ
@given(parts=csv_file, start=st.booleans())
def test_csv_imports_whole_leads_and_reports_every_other_row(
    parts: tuple[str, list[str], str], start: bool
) -> None:
    header, rows, newline = parts
    raw = newline.join([header, *rows]).encode("utf-8", "surrogateescape")
    records, clock = Records(InMemoryStateStore()), ManualClock()
    from outreach_core.services.admin import AdminService

    admin = AdminService(records, clock)
    admin.add_tenant("acme", "Acme", "1 Main Street, Springfield")
    admin.add_direction("acme", "d", "D")
    admin.add_identity("acme", "i", "i@acme-mail.com")
    admin.add_template("acme", "t", "S", "T")
    admin.add_campaign("acme", "c", "d", [CampaignStep(number=1, template_id="t")])
    if start:
        admin.start_campaign("acme", "c")
    try:
        report = LeadImportService(records, clock).import_csv("acme", raw)
    except ImportFileError as exc:
        assert "\n" not in str(exc) and records.all(Lead, "acme") == []
        return
    leads = records.all(Lead, "acme")
    assert report.imported == len(leads)
    lines = len(raw.splitlines()) + 1
    assert all(1 <= p.line <= lines for p in report.problems)
    for lead in leads:
        assert canonical_email(lead.email) == lead.email, "stored in the canonical form"
    running = [c for c in records.all(Campaign, "acme") if c.status is CampaignStatus.RUNNING]
    timers = records.timers_due("acme", TimerKind.STEP, datetime(2100, 1, 1, tzinfo=UTC))
    assert len(timers) == len(leads) * len(running), "each lead with its enrolment, never half"


# --- HTTP endpoints ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def web() -> tuple[WebApp, Any]:
    world = build_world()
    world.send_due()
    return WebApp(UnsubscribeService(world.records, world.clock, world.suppression, [SECRET])), world


@FUZZ
@given(method=st.sampled_from(["GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "get", "BREW"]),
       path=st.one_of(st.sampled_from(["/", "/sns", "/healthz", "/unsubscribe/", "/unsubscribe/a.b.c",
                                       "/unsubscribe/acme.l-x.00", "/unsubscribe/" + "a" * 400]),
                      st.text(alphabet=string.printable, max_size=60).map(lambda p: "/" + p)),
       body=st.binary(max_size=200),
       content_type=st.sampled_from(["", "application/x-www-form-urlencoded", "multipart/form-data; b=x",
                                     "text/plain"]))  # fmt: skip
def test_the_web_app_answers_everything_with_a_status(
    web: tuple[WebApp, Any], method: str, path: str, body: bytes, content_type: str
) -> None:
    app, world = web
    before = {lead.id: lead.status for lead in world.records.all(Lead, "acme")}
    response = app.handle(WebRequest(method, path, {"content-type": content_type}, body))
    assert response.status in (200, 400, 404, 405)
    assert "Set-Cookie" not in response.headers and "Location" not in response.headers
    assert {lead.id: lead.status for lead in world.records.all(Lead, "acme")} == before, (
        "no forged token works"
    )


@pytest.fixture(scope="module")
def live_server() -> Any:
    world = build_world()
    saved = http_server.READ_TIMEOUT_S
    http_server.READ_TIMEOUT_S = 0.3
    try:
        app = WebApp(UnsubscribeService(world.records, world.clock, world.suppression, [SECRET]))
        server = LocalHttpServer(app, "127.0.0.1", 0).start()
    finally:
        http_server.READ_TIMEOUT_S = saved
    yield server
    server.stop()


_REQUEST_BITS = st.sampled_from([b"GET ", b"POST ", b"/healthz", b"/sns", b"/unsubscribe/x", b" HTTP/1.1",
                                 b" HTTP/1.0", b" HTTP/0.9", b"\r\n", b"Host: x\r\n", b"Content-Length: ",
                                 b"-1", b"99999999999", b"abc", b"2", b"Transfer-Encoding: chunked\r\n",
                                 b"\x00", b"\xff", b":", b" "])  # fmt: skip


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(_REQUEST_BITS, max_size=14))
def test_the_http_server_survives_any_bytes(live_server: LocalHttpServer, parts: list[bytes]) -> None:
    raw = b"".join(parts) + b"\r\n\r\n"
    host, port = live_server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(raw)
        answer = b""
        while chunk := conn.recv(65536):  # the server answers and closes, or closes: never holds on
            answer += chunk
            if answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"ok"):
                break
    if answer:
        status = int(answer.split(b" ", 2)[1])
        assert status < 500 or status == 501, answer[:200]  # 501: a method HTTP does not know
    with socket.create_connection((host, int(port)), timeout=5) as conn:  # and it still serves
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert conn.recv(100).startswith(b"HTTP/1.1 200")


# --- SNS envelopes -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sns_key() -> rsa.RSAPrivateKey:
    return new_key()


def _endpoint(key: rsa.RSAPrivateKey, delivered: list[str]) -> SnsEndpoint:
    verifier = SnsVerifier(
        ManualClock(), topic_arns={TOPIC}, fetch=FakeFetcher({CERT_URL: make_certificate(key)})
    )
    return SnsEndpoint(verifier, on_notification=delivered.append, confirm=lambda url: None)


_JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)
SIGNED = ("Message", "MessageId", "Timestamp", "TopicArn", "Type", "Signature", "SignatureVersion",
          "SigningCertURL")  # fmt: skip


@FUZZ
@given(field=st.sampled_from(SIGNED), value=_JSONISH)
def test_an_altered_sns_envelope_is_refused_and_never_delivered(
    sns_key: rsa.RSAPrivateKey, field: str, value: Any
) -> None:
    genuine = sns_sign(notification('{"eventType":"Send"}', at=T0), sns_key)
    assume(genuine.get(field) != value and str(genuine.get(field)) != str(value))
    altered = {**genuine, field: value}
    delivered: list[str] = []
    answer = _endpoint(sns_key, delivered).handle(json.dumps(altered).encode())
    assert answer.status in (400, 403), answer
    assert delivered == []


@FUZZ
@given(raw=st.one_of(st.binary(max_size=300), _JSONISH.map(lambda v: json.dumps(v).encode())))
def test_any_body_on_sns_is_a_clear_answer(sns_key: rsa.RSAPrivateKey, raw: bytes) -> None:
    delivered: list[str] = []
    answer = _endpoint(sns_key, delivered).handle(raw)
    assert answer.status in (400, 403) and delivered == []
    assert "\n" not in answer.text


@FUZZ
@given(messages=st.lists(st.one_of(st.text(max_size=40), _JSONISH.map(json.dumps)), min_size=1, max_size=5))
def test_the_ingestor_applies_or_keeps_every_payload(messages: list[str]) -> None:
    world = build_world()
    archive = InMemoryArchive()
    report = EventIngestor(archive, world.feedback, world.replies, world.clock).ingest(messages)
    kept = [
        json.loads(line) for blob in archive.blobs.values() for line in gzip.decompress(blob).splitlines()
    ]
    unreadable = [line["unreadable"] for line in kept if isinstance(line, dict) and "unreadable" in line]
    for index, _ in report.rejected:  # nothing dropped: each rejected payload is in the archive as it came
        raw = messages[index]
        assert raw in unreadable or _decoded(raw) in kept


def _decoded(raw: str) -> object:
    try:
        return json.loads(raw)
    except ValueError:
        return object()
