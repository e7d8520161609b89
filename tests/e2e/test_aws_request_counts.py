"""AWS requests made by the real Lambda handlers, pinned (tests/e2e/aws_requests.py: the workload and
how requests are counted). Counts are deterministic: a change in what a function asks AWS for fails
here and is either a regression or a new pin with its reason (docs/benchmarks.md keeps the figures;
bench/bench_aws_requests.py prints them for larger runs).

GIVEN 2 tenants x 15 leads, a 2-step campaign, pacing opened, the planner every 5 minutes;
WHEN  every job is planned, sent (the follow-up in its thread) and fed back with a Delivery event;
THEN  the sender makes 7 requests per email (two batched reads, the `sending` and the `sent`
      transactions, the SES call, the failover breaker's read, and the identity list once per tenant
      per invocation), the feedback function 4 per event, and the planner 107 over three ticks for 60
      jobs: mostly a fixed part per tick and tenant (its due-timer, campaign and identity queries);
      per job, shares of batched requests, so a tick of 400 jobs costs 0.285 requests a job (pinned
      below; bench_aws_requests measures ticks of a thousand jobs).
"""

from __future__ import annotations

import pytest

from tests.e2e import aws_requests

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

LEADS = 15  # per tenant: 60 emails in all (2 tenants, 2 steps)


def test_requests_per_email_job_and_event_are_pinned() -> None:
    counts = aws_requests.measure(LEADS)

    assert (counts.planned, counts.sent, counts.events) == (60, 60, 60)
    assert counts.table()["sender"] == {
        "dynamodb:BatchGetItem": 120,  # per email: what the message names, then what its job points to
        "dynamodb:GetItem": 60,  # the failover breaker, once per email
        "dynamodb:Query": 60,  # which identities a tenant has: once per tenant per invocation
        "dynamodb:TransactWriteItems": 120,  # queued -> sending (+ limiter documents), sending -> sent
        "sesv2:SendEmail": 60,
    }
    assert counts.table()["feedback"] == {
        "dynamodb:BatchGetItem": 60,  # the job, its lead, the policy, the campaign's and tenant's windows
        "dynamodb:GetItem": 60,  # the identity's window (the job says which identity)
        "dynamodb:TransactWriteItems": 60,  # the job, the event's dedupe claim, the three windows
        "s3:PutObject": 60,  # the raw event archived (SNS delivers one event per invocation)
    }
    assert counts.table()["planner"] == {
        "dynamodb:BatchGetItem": 16,
        # + per tenant and tick since issue 15: the completion check (its campaigns, a marker) and the
        #   one-sequence-per-lead check at step 1
        "dynamodb:GetItem": 14,
        "dynamodb:PutItem": 6,
        "dynamodb:Query": 69,
        "dynamodb:TransactWriteItems": 12,
        "sqs:SendMessageBatch": 8,
    }
    per_unit = counts.per_unit()
    assert per_unit["sender requests per sent email"] <= 8
    assert per_unit["feedback requests per event"] <= 4


def test_a_planner_tick_of_hundreds_of_jobs_costs_at_most_three_tenths_of_a_request_per_job() -> None:
    # GIVEN 2 tenants x 200 leads whose step 1 is due (inside each tenant's 5-minute share of 6,000/hour)
    # WHEN  the planner's first tick plans them all
    counts = aws_requests.measure_first_tick(200)

    # THEN  every job is claimed in batched transactions, enqueued in batches of 10 and its lead and
    #       suppression entries read in pages of 100: the per-job part, plus a fixed part per tenant
    assert counts.planned == 400
    assert counts.table()["planner"] == {
        "dynamodb:BatchGetItem": 20,  # per page of 100 due timers: their leads, then suppression entries
        "dynamodb:GetItem": 6,
        "dynamodb:PutItem": 3,
        # per tenant: due timers (paged), campaigns, identities, the next timer, the completion check
        "dynamodb:Query": 27,
        "dynamodb:TransactWriteItems": 24,  # claims of 33 jobs, queued marks of 50
        "sqs:SendMessageBatch": 40,  # 10 messages each
    }
    assert counts.total("planner") / counts.planned <= 0.3
