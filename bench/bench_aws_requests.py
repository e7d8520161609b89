"""AWS requests per planned job, per sent email and per feedback event, counted through the real Lambda
handlers against moto (tests/e2e/aws_requests.py: the workload, the policy, how requests are counted).
Deterministic counts, not times: the small run is the one tests/e2e/test_aws_request_counts.py pins;
the large one shows the planner when a tick plans about a thousand jobs (2 tenants x 500 an hour-quota
share of 5 minutes), which is where its per-job figure is decided.
"""

from __future__ import annotations

from typing import Any

from tests.e2e import aws_requests

RUNS = {"pinned": 15, "large": 500}  # leads per tenant (2 tenants, 2 steps: 4 emails per lead pair)


def run() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, leads in RUNS.items():
        counts = aws_requests.measure(leads)
        out[name] = {
            "leads_per_tenant": leads,
            "planned": counts.planned,
            "sent": counts.sent,
            "events": counts.events,
            "invocations": dict(counts.invocations),
            "per_unit": {k: round(v, 3) for k, v in counts.per_unit().items()},
            "requests": counts.table(),
        }
    return out


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "| run | planner requests / planned job (target ≤ 0.3) | sender requests / sent email (target ≤ 8) "
        "| feedback requests / event |",
        "|---|---|---|---|",
    ]
    for name, run in result.items():
        unit = run["per_unit"]
        lines.append(
            f"| {name}: 2 tenants × {run['leads_per_tenant']} leads × 2 steps = {run['sent']:,} emails "
            f"| **{unit['planner requests per planned job']:.3f}** "
            f"| **{unit['sender requests per sent email']:.2f}** "
            f"| **{unit['feedback requests per event']:.2f}** |"
        )
    lines += ["", "By function, service and operation (the large run; per unit in brackets):", ""]
    large = result["large"]
    units = {"planner": large["planned"], "sender": large["sent"], "feedback": large["events"]}
    lines += ["| function | requests |", "|---|---|"]
    for function in ("planner", "sender", "feedback"):
        ops = large["requests"].get(function, {})
        cells = ", ".join(f"{op} {n:,} ({n / units[function]:.3f})" for op, n in ops.items())
        lines.append(f"| {function} ({large['invocations'].get(function, 0):,} invocations) | {cells} |")
    lines += [
        "",
        "Each run asserted every job planned, every email sent once (SES in moto holds each exactly once) "
        "and every Delivery event applied.",
    ]
    return "\n".join(lines) + "\n"
