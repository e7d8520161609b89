"""The cost model: the price table's provenance, and what each deployment option does to the bill."""

from __future__ import annotations

import csv
import io

import pytest

from adapters.cost_model import CSV_COLUMNS, Deployment, Estimate, estimate, load_prices, summary


def _line(est: Estimate, service: str, item_part: str) -> float:
    return sum(line.monthly_usd for line in est.lines if line.service == service and item_part in line.item)


def test_every_price_has_a_source_a_date_and_a_confidence() -> None:
    table = load_prices()
    assert table.price_date
    assert len(table.prices) > 20
    for key, price in table.prices.items():
        assert price.source_url.startswith("https://aws.amazon.com/"), key
        assert price.confidence in {"doc", "3rd", "memory"}, key
        assert price.price >= 0 and price.free_monthly >= 0, key


def test_unverified_prices_are_marked_in_the_csv() -> None:
    est = estimate(Deployment(10_000))
    rows = list(csv.DictReader(io.StringIO(est.csv())))
    assert tuple(rows[0]) == CSV_COLUMNS
    table = load_prices()
    by_item = {(p.service, p.item): p for p in table.prices.values()}
    for row in rows[:-1]:
        price = by_item[(row["service"], row["item"])]
        assert row["assumption"].startswith("UNVERIFIED") == (price.confidence != "doc")


def test_default_deployment_at_10k_is_a_few_dollars_and_ses_dominates() -> None:
    est = estimate(Deployment(10_000))
    assert est.total <= 5.0
    assert _line(est, "ses", "outbound") == pytest.approx(1.00)
    assert max(est.by_service(), key=lambda s: est.by_service()[s]) == "ses"
    assert "$" in summary(est) and "10,000 emails/month" in summary(est)


def test_ses_scales_linearly_and_the_plan_changes_the_rate() -> None:
    assert _line(estimate(Deployment(1_000_000)), "ses", "outbound") == pytest.approx(100.0)
    essentials = estimate(Deployment(1_000_000, ses_plan="essentials"))
    assert _line(essentials, "ses", "Essentials") == pytest.approx(160.0)


def test_options_add_their_own_lines() -> None:
    base = estimate(Deployment(10_000)).total
    ip = estimate(Deployment(10_000, dedicated_ips=1))
    assert _line(ip, "ses", "dedicated IP") == pytest.approx(2 * 24.95)  # one per region, two regions
    assert _line(
        estimate(Deployment(10_000, dedicated_ips=1, regions=1)), "ses", "dedicated IP"
    ) == pytest.approx(24.95)
    kms = estimate(Deployment(10_000, customer_kms_key=True))
    assert _line(kms, "kms", "customer-managed") == pytest.approx(2.0)
    assert kms.total > base
    secret = estimate(Deployment(10_000, secrets_manager=True))
    assert _line(secret, "secretsmanager", "secret") == pytest.approx(0.40)


def test_per_tenant_metric_dimensions_multiply_the_cloudwatch_bill() -> None:
    plain = estimate(Deployment(10_000, tenants=20, free_tier=False))
    trap = estimate(Deployment(10_000, tenants=20, free_tier=False, per_tenant_metrics=True))
    assert _line(plain, "cloudwatch", "custom metrics") == pytest.approx(10 * 0.30)
    assert _line(trap, "cloudwatch", "custom metrics") == pytest.approx(20 * 10 * 0.30)


def test_the_free_tier_only_lowers_the_bill() -> None:
    for n in (10_000, 100_000, 1_000_000):
        assert estimate(Deployment(n)).total <= estimate(Deployment(n, free_tier=False)).total


def test_batching_feedback_cuts_archive_puts() -> None:
    direct = estimate(Deployment(1_000_000))
    batched = estimate(Deployment(1_000_000, feedback_batch=10))
    assert _line(direct, "s3", "PUT") == pytest.approx(3_000_000 / 1000 * 0.005, rel=0.01)
    assert _line(batched, "s3", "PUT") < _line(direct, "s3", "PUT") / 9
    assert batched.total < direct.total
