"""The monthly AWS bill of a deployment, itemised: usage drivers x the dated price table.

Usage is derived from how the engine works (one SES call per email, a sender Lambda per SQS batch,
about three SES events per email through SNS to the feedback Lambda, a planner tick every five
minutes, ~6 write and ~3 read units per email in DynamoDB, the archive batched per tenant and day),
and every line says which assumption it rests on. Prices live in aws_prices.toml with their source,
date and confidence; anything not from an AWS page is flagged UNVERIFIED.
"""

from __future__ import annotations

import csv
import io
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal

PRICE_FILE = "aws_prices.toml"
CSV_COLUMNS = (
    "service",
    "item",
    "unit",
    "quantity",
    "unit_price",
    "monthly_usd",
    "assumption",
    "source_url",
    "price_date",
)
# Unit sizes: a price "per 1M requests" applies to quantity / 1e6, and so on.
_UNIT_SIZE = {
    "1,000 emails": 1_000,
    "1M requests": 1_000_000,
    "1M publishes": 1_000_000,
    "1M deliveries": 1_000_000,
    "100,000 notifications": 100_000,
    "1M WRU": 1_000_000,
    "1M RRU": 1_000_000,
    "1M invocations": 1_000_000,
    "1,000 requests": 1_000,
    "10,000 requests": 10_000,
}
MINUTES_PER_MONTH = 30 * 24 * 60


@dataclass(frozen=True)
class Price:
    service: str
    key: str
    item: str
    unit: str
    price: float
    free_monthly: float
    confidence: str
    source_url: str
    note: str = ""

    @property
    def unit_size(self) -> float:
        return _UNIT_SIZE.get(self.unit, 1)


@dataclass(frozen=True)
class PriceTable:
    price_date: str
    prices: dict[str, Price]

    def __getitem__(self, key: str) -> Price:
        return self.prices[key]


def load_prices(text: str | None = None) -> PriceTable:
    raw: dict[str, Any] = tomllib.loads(
        text if text is not None else resources.files("adapters").joinpath(PRICE_FILE).read_text("utf-8")
    )
    meta = raw.pop("meta")
    prices = {}
    for service, items in raw.items():
        for key, spec in items.items():
            prices[f"{service}.{key}"] = Price(
                service=service,
                key=key,
                item=spec["item"],
                unit=spec["unit"],
                price=float(spec["price"]),
                free_monthly=float(spec.get("free_monthly", 0)),
                confidence=spec["confidence"],
                source_url=spec["source_url"],
                note=spec.get("note", ""),
            )
    return PriceTable(price_date=str(meta["price_date"]), prices=prices)


@dataclass(frozen=True)
class Deployment:
    """What is being priced. The defaults are the default deployment (see docs/cost.md)."""

    emails_per_month: int
    tenants: int = 3
    regions: int = 2  # primary + SES failover region
    dedicated_ips: int = 0  # per region
    customer_kms_key: bool = False  # one CMK per region for DynamoDB, SQS, SNS and S3
    free_tier: bool = True  # the always-free monthly allowances (not the 12-month tier)
    ses_plan: Literal["a-la-carte", "essentials"] = "a-la-carte"
    per_tenant_metrics: bool = False  # the cost trap: every metric again per tenant
    secrets_manager: bool = False  # the Telegram token in Secrets Manager instead of SSM
    events_per_email: float = 3.0  # SES events per email (send, delivery, and open or bounce)
    feedback_batch: int = 1  # SES events per feedback invocation and per archive object (SNS->Lambda: 1)
    sender_batch: int = 10  # SQS messages per sender invocation
    requeue_factor: float = 1.3  # queue messages per email (deferrals outside the window, retries)
    custom_metrics: int = 10  # distinct metric series the default catalogue keeps active
    alarms: int = 9  # primary region; +1 per extra region (its SES reputation)
    dashboards: int = 1
    log_kb_per_invocation: float = 2.0  # START/END/REPORT, our JSON lines, one EMF line per dimension set
    log_retention_days: int = 30
    archive_kb_per_event: float = 0.6  # gzip JSON line of one raw SES event
    archive_days: int = 90  # S3 lifecycle expiry
    planner_interval_min: int = 5


@dataclass
class Line:
    service: str
    item: str
    unit: str
    quantity: float
    unit_price: float
    monthly_usd: float
    assumption: str
    source_url: str
    price_date: str

    def row(self) -> dict[str, str]:
        return {
            "service": self.service,
            "item": self.item,
            "unit": self.unit,
            "quantity": _fmt(self.quantity),
            "unit_price": f"{self.unit_price:g}",
            "monthly_usd": f"{self.monthly_usd:.4f}",
            "assumption": self.assumption,
            "source_url": self.source_url,
            "price_date": self.price_date,
        }


def _fmt(value: float) -> str:
    return f"{value:.0f}" if value >= 100 or value == int(value) else f"{value:.4g}"


@dataclass
class Estimate:
    deployment: Deployment
    lines: list[Line] = field(default_factory=list)

    @property
    def total(self) -> float:
        return round(sum(line.monthly_usd for line in self.lines), 2)

    def by_service(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for line in self.lines:
            out[line.service] = out.get(line.service, 0.0) + line.monthly_usd
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
        writer.writeheader()
        for line in self.lines:
            writer.writerow(line.row())
        writer.writerow(
            {
                "service": "TOTAL",
                "item": "",
                "unit": "USD/month",
                "quantity": "",
                "unit_price": "",
                "monthly_usd": f"{self.total:.2f}",
                "assumption": f"{self.deployment.emails_per_month} emails/month; see docs/cost.md",
                "source_url": "",
                "price_date": "",
            }
        )
        return out.getvalue()


class _Builder:
    def __init__(self, prices: PriceTable, deployment: Deployment) -> None:
        self.prices = prices
        self.d = deployment
        self.estimate = Estimate(deployment)

    def add(self, key: str, quantity: float, assumption: str, *, free: float | None = None) -> None:
        """`quantity` in the price's unit (e.g. 0.03 for 30,000 requests priced per 1M)."""
        price = self.prices[key]
        allowance = (price.free_monthly if free is None else free) if self.d.free_tier else 0.0
        billable = max(0.0, quantity - allowance)
        notes = [assumption]
        if allowance and quantity:
            notes.append(f"always-free allowance {allowance:g} x {price.unit} a month")
        if price.note:
            notes.append(price.note)
        if price.confidence != "doc":
            notes.insert(0, f"UNVERIFIED price ({price.confidence})")
        self.estimate.lines.append(
            Line(
                service=price.service,
                item=price.item,
                unit=price.unit,
                quantity=round(quantity, 6),
                unit_price=price.price,
                monthly_usd=round(billable * price.price, 4),
                assumption="; ".join(notes),
                source_url=price.source_url,
                price_date=self.prices.price_date,
            )
        )


def estimate(deployment: Deployment, prices: PriceTable | None = None) -> Estimate:
    d = deployment
    b = _Builder(prices or load_prices(), d)
    n = d.emails_per_month
    events = n * d.events_per_email
    million = 1_000_000

    # SES
    ses_key = "ses.send" if d.ses_plan == "a-la-carte" else "ses.send_essentials"
    b.add(ses_key, n / 1_000, f"{n} emails, one SES call each (a failover send replaces, never adds)")
    if d.dedicated_ips:
        b.add(
            "ses.dedicated_ip",
            d.dedicated_ips * d.regions,
            f"{d.dedicated_ips} IP(s) in each of {d.regions} region(s)",
        )

    # Lambda
    sender_calls = n * d.requeue_factor / d.sender_batch
    feedback_calls = events / d.feedback_batch
    planner_calls = MINUTES_PER_MONTH / d.planner_interval_min
    requests = sender_calls + feedback_calls + planner_calls
    b.add(
        "lambda.requests",
        requests / million,
        f"sender {sender_calls:.0f} (batches of {d.sender_batch}, x{d.requeue_factor} for deferrals) + "
        f"feedback {feedback_calls:.0f} ({d.events_per_email:g} events/email, {d.feedback_batch}/call) + "
        f"planner {planner_calls:.0f} (every {d.planner_interval_min} min)",
    )
    gb_s = sender_calls * 1.5 * 0.25 + feedback_calls * 0.1 * 0.25 + planner_calls * 1.0 * 0.5
    b.add("lambda.duration", gb_s, "sender 1.5 s, feedback 0.1 s at 256 MB; planner 1 s at 512 MB")

    # SQS: sends + batched receives/deletes per message, plus the event source mapping's empty polls
    sqs_requests = n * d.requeue_factor * 1.2 + 650_000
    note = ""
    if d.feedback_batch > 1:  # batching feedback means SNS -> SQS -> Lambda: one send per event
        sqs_requests += events * (1 + 2 / d.feedback_batch) + 650_000
        note = f"; feedback through a second queue: 1 send per event, receive/delete per {d.feedback_batch}"
    b.add(
        "sqs.requests",
        sqs_requests / million,
        "1 send + batched receive/delete per queue message; ~650k empty long polls/month per queue from "
        "the Lambda event source mapping" + note,
    )

    # SNS: SES event publishing (one publish per event), alert e-mails
    b.add("sns.publish", events / million, f"{d.events_per_email:g} SES events per email published to SNS")
    b.add("sns.lambda_delivery", events / million, "SNS -> feedback Lambda deliveries carry no charge")
    b.add("sns.email_delivery", 300 / 100_000, "~300 alert e-mails/month after rate limiting")

    # DynamoDB
    planner_reads = planner_calls * d.tenants * 4
    b.add("dynamodb.write", n * 6 / million, "~6 WRU per email (claim, sending, sent, events, windows)")
    b.add(
        "dynamodb.read",
        (n * 3 + planner_reads) / million,
        f"~3 RRU per email + planner timer queries ({d.tenants} tenants x 4 RRU per tick)",
    )
    table_gb = n * 3 * 3 * 1.0 / million  # ~3 items of ~1 KB per email, kept ~90 days (3 months)
    b.add("dynamodb.storage", table_gb, "~3 items of ~1 KB per email, 90-day TTL")
    b.add("dynamodb.pitr", table_gb, "PITR on the table (design.md §7)")

    # EventBridge Scheduler
    b.add("eventbridge.scheduler", planner_calls / million, "the planner schedule")

    # S3 archive: events per tenant and day, batched; daily exports per tenant
    archive_gb = events * d.archive_kb_per_event / million * (d.archive_days / 30)
    objects = events / d.feedback_batch + d.tenants * 30
    b.add("s3.storage", archive_gb, f"gzip JSON lines, {d.archive_days}-day expiry (steady state)")
    b.add(
        "s3.put",
        objects / 1_000,
        f"one object per feedback batch ({d.feedback_batch} event(s)) + one export per tenant per day",
    )

    # CloudWatch
    metrics = d.custom_metrics * (d.tenants if d.per_tenant_metrics else 1)
    b.add(
        "cloudwatch.metrics",
        metrics,
        "SendOutcome x4, FeedbackEvent x4, ProviderError, FeedbackIgnored; "
        "queue figures come free from AWS/SQS"
        + (f"; x{d.tenants} tenants (per-tenant dimensions)" if d.per_tenant_metrics else ""),
    )
    b.add(
        "cloudwatch.alarms",
        d.alarms + (d.regions - 1),
        "DLQ, oldest age, bounce, complaint, throttles, 3 Lambda error alarms, budget; +1 per extra region",
    )
    b.add("cloudwatch.dashboard", d.dashboards, "one operations dashboard")
    logs_gb = requests * d.log_kb_per_invocation / million
    b.add("cloudwatch.logs_ingest", logs_gb, f"~{d.log_kb_per_invocation:g} KB of logs per invocation")
    b.add(
        "cloudwatch.logs_storage",
        logs_gb * d.log_retention_days / 30,
        f"{d.log_retention_days}-day retention",
    )

    # Keys and secrets
    if d.customer_kms_key:
        b.add("kms.key", d.regions, f"one customer-managed key per region ({d.regions})")
        b.add("kms.requests", 100_000 / 10_000, "~100k requests/month with data-key caching")
    b.add("ssm.parameter", 1, "the Telegram bot token as a standard SecureString (aws/ssm key)")
    if d.secrets_manager:
        b.add("secretsmanager.secret", 1, "the Telegram token in Secrets Manager instead of SSM")
    b.add("budgets.budget", 1, "one monthly cost budget alerting through the SNS topic")
    return b.estimate


def summary(est: Estimate) -> str:
    d = est.deployment
    lines = [
        f"Estimated AWS cost for {d.emails_per_month:,} emails/month, {d.tenants} tenant(s), "
        f"{d.regions} region(s): ${est.total:.2f}/month",
    ]
    for service, usd in est.by_service().items():
        if usd >= 0.005:
            lines.append(f"  {service:<14} ${usd:8.2f}")
    zero = [s for s, usd in est.by_service().items() if usd < 0.005]
    if zero:
        lines.append(f"  under a cent: {', '.join(zero)}")
    flags = [
        name
        for name, on in (
            ("dedicated IP", bool(d.dedicated_ips)),
            ("customer KMS key", d.customer_kms_key),
            ("no free tier", not d.free_tier),
            ("per-tenant metrics", d.per_tenant_metrics),
        )
        if on
    ]
    if flags:
        lines.append(f"  options: {', '.join(flags)}")
    unverified = sum(1 for line in est.lines if line.assumption.startswith("UNVERIFIED"))
    lines.append(f"  {unverified} of {len(est.lines)} lines use prices not checked against an AWS page")
    return "\n".join(lines)
