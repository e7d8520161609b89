"""`outreach domain check` and the gate at `campaign start`, against a real DNS server on 127.0.0.1
(dnslib) serving a correct domain and ones with a missing SPF, a broken DKIM and no DMARC: the real
CLI, the real checkdmarc / dkimpy / dnspython adapter, the core's judgement."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from typer.testing import CliRunner

from entrypoints.cli.app import app
from tests.dns_server import Zone, dns_server


def dkim_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    text = base64.b64encode(der).decode()
    return " ".join(f'"{text[i : i + 200]}"' for i in range(0, len(text), 200))  # TXT strings <= 255


def ses_domain(name: str, *, spf: bool = True, dkim: bool = True, dmarc: bool = True) -> str:
    mail_from = f"bounce-eu-west-1.{name}"
    lines = [
        f"{name}. 300 IN MX 10 inbound-smtp.eu-west-1.amazonaws.com.",
        f"{mail_from}. 300 IN MX 10 feedback-smtp.eu-west-1.amazonses.com.",
    ]
    if spf:
        lines.append(f'{mail_from}. 300 IN TXT "v=spf1 include:amazonses.com ~all"')
    if dmarc:
        lines.append(f'_dmarc.{name}. 300 IN TXT "v=DMARC1; p=quarantine; rua=mailto:dmarc@{name}"')
    for n in (1, 2, 3):
        token = f"{name.split('.', maxsplit=1)[0]}tok{n}"
        lines.append(f"{token}._domainkey.{name}. 300 IN CNAME {token}.dkim.amazonses.com.")
        if dkim:  # broken: the CNAMEs point at keys SES never published
            lines.append(f'{token}.dkim.amazonses.com. 300 IN TXT "v=DKIM1; k=rsa; p=" {dkim_key()}')
    return "\n".join(lines)


ZONE = "\n".join(
    [
        'amazonses.com. 300 IN TXT "v=spf1 ip4:199.255.192.0/22 ip4:199.127.232.0/22 ip4:54.240.0.0/18 -all"',
        ses_domain("good.example"),
        ses_domain("nospf.example", spf=False),
        ses_domain("brokendkim.example", dkim=False),
        ses_domain("nodmarc.example", dmarc=False),
    ]
)


@pytest.fixture(scope="module")
def dns_address() -> Iterator[str]:
    with dns_server(Zone(ZONE)) as address:
        yield address


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dns_address: str):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OUTREACH_MX_RESOLVER", "dns")
    monkeypatch.setenv("OUTREACH_DNS_NAMESERVERS", dns_address)
    monkeypatch.setenv("COLUMNS", "250")
    runner = CliRunner()

    def invoke(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, ["--workspace", str(tmp_path), *args])
        assert result.exit_code == code, result.output
        return result.output

    invoke("init")  # commands need a workspace that exists (issue 12)
    return invoke


def tokens(domain: str) -> list[str]:
    return [part for n in (1, 2, 3) for part in ("--selector", f"{domain.split('.', maxsplit=1)[0]}tok{n}")]


def test_a_correct_domain_passes_every_check(run) -> None:  # type: ignore[no-untyped-def]
    out = run("domain", "check", "good.example", *tokens("good.example"), "--json")
    report = json.loads(out)
    assert not report["blocks"]
    assert {c["check"]: c["status"] for c in report["checks"]} == {
        "SPF": "ok",
        "DKIM": "ok",
        "DMARC": "ok",
        "MAIL FROM": "ok",
    }
    messages = {c["check"]: c["message"] for c in report["checks"]}
    assert messages["SPF"].startswith("bounce-eu-west-1.good.example authorises amazonses.com, aligned")
    assert "goodtok1 (rsa 2048)" in messages["DKIM"]
    assert messages["DMARC"].startswith("p=quarantine, adkim=r, aspf=r")
    assert messages["MAIL FROM"] == "bounce-eu-west-1.good.example MX feedback-smtp.eu-west-1.amazonses.com"


@pytest.mark.parametrize(
    ("domain", "check", "says"),
    [
        ("nospf.example", "SPF", "no SPF record at bounce-eu-west-1.nospf.example"),
        ("brokendkim.example", "DKIM", "brokendkimtok1._domainkey: no key record"),
        ("nodmarc.example", "DMARC", "no DMARC record at _dmarc.nodmarc.example"),
    ],
)
def test_each_broken_domain_gets_one_clear_line(run, domain: str, check: str, says: str) -> None:  # type: ignore[no-untyped-def]
    out = run("domain", "check", domain, *tokens(domain), "--json", code=1)
    report = json.loads(out[: out.rindex("}") + 1])
    statuses = {c["check"]: c["status"] for c in report["checks"]}
    assert statuses.pop(check) == "FAIL" and set(statuses.values()) == {"ok"}, report
    [line] = [c["message"] for c in report["checks"] if c["check"] == check]
    assert says in line
    assert f"{domain}: {check} failing" in out


def test_campaign_start_refuses_a_failing_domain_unless_overridden(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "t.txt").write_text("Hello {{first_name|there}}.", encoding="utf-8")
    run("tenant", "add", "acme", "--name", "Acme", "--address", "1 Main Street, Springfield")
    run("direction", "add", "acme", "sales", "--name", "Sales")
    run("identity", "add", "acme", "ann", "--email", "ann@nodmarc.example")
    run("template", "add", "acme", "t", "--subject", "Hi", "--text-file", str(tmp_path / "t.txt"))
    run("campaign", "add", "acme", "spring", "--direction", "sales", "--step", "t")
    run("domain", "check", "nodmarc.example", *tokens("nodmarc.example"), code=1)  # selectors remembered
    refused = run("campaign", "start", "acme", "spring", code=1)
    assert "no DMARC record at _dmarc.nodmarc.example" in refused
    assert "--override-domain-check" in refused
    assert "draft" in run("campaign", "list", "acme")
    started = run(
        "campaign", "start", "acme", "spring", "--override-domain-check", "DMARC published tomorrow"
    )
    assert "running" in started
    audit = run("audit", "list", "acme")
    assert "campaign.domain_check_overridden" in audit and "DMARC published tomorrow" in audit


def test_with_the_offline_resolver_nothing_is_checked_and_nothing_blocks(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["--workspace", str(tmp_path), "init"]).exit_code == 0
    result = runner.invoke(app, ["--workspace", str(tmp_path), "domain", "check", "anything.example"])
    assert result.exit_code == 0, result.output
    assert result.output.count("not checked") == 4 and "offline resolver" in result.output
