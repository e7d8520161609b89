"""`outreach dlq list|redrive` with OUTREACH_BACKEND=aws: the CLI builds its own boto3 clients from the
settings and talks HTTP to a moto server on 127.0.0.1, as it would to AWS."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from moto.server import ThreadedMotoServer
from typer.testing import CliRunner

from adapters.aws.dynamodb_store import DynamoDbStateStore
from adapters.aws.sqs_queue import SqsJobQueue
from entrypoints.cli.app import app
from outreach_core.domain.jobs import JobStatus, MessageJob
from outreach_core.ports import QueueMessage
from outreach_core.records import Records
from outreach_core.services.jobs import JobMessage
from tests.fakes import T0, ManualClock
from tests.integration.aws import moto_env


@pytest.fixture
def server() -> Iterator[str]:
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    try:
        with moto_env.fake_aws_env():
            yield f"http://{host}:{port}"
    finally:
        moto.stop()
        structlog.reset_defaults()
        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))


def _job(job_id: str) -> MessageJob:
    return MessageJob(
        job_id=job_id,
        tenant_id="northwind",
        campaign_id="q1",
        lead_id=job_id.split("_")[1],
        step=1,
        template_id="t1",
        scheduled_at=T0,
        idempotency_key=f"ikey-{job_id}",
        status=JobStatus.DEAD_LETTERED,
        status_reason="SES eu-west-1 unreachable",
        attempts=5,
        updated_at=T0,
    )


def test_dlq_list_and_redrive_on_aws(server: str, tmp_path: Any) -> None:
    # GIVEN two dead-lettered jobs in DynamoDB and their messages in the SQS dead-letter queue
    sqs, dynamodb = (
        moto_env.client("sqs", endpoint_url=server),
        moto_env.client("dynamodb", endpoint_url=server),
    )
    url, dlq_url = moto_env.create_queues(sqs, "cli-jobs")
    moto_env.create_table(dynamodb, "cli-outreach")
    records = Records(DynamoDbStateStore(dynamodb, "cli-outreach"))
    queue = SqsJobQueue(sqs, url, dlq_url, ManualClock())
    for job_id in ("q1_lead-1_1", "q1_lead-2_1"):
        records.store.write(records.job_op(_job(job_id), expected_version=0))
        body = JobMessage(tenant_id="northwind", job_id=job_id).dump()
        queue.send(QueueMessage(body=body, group="northwind"))
    for received in queue.receive(10):
        queue.dead_letter(received.receipt, "transient errors exhausted (5 attempts)")
    env = {
        "OUTREACH_BACKEND": "aws",
        "OUTREACH_AWS_REGION": moto_env.REGION,
        "OUTREACH_AWS_ENDPOINT_URL": server,
        "OUTREACH_TABLE_NAME": "cli-outreach",
        "OUTREACH_JOB_QUEUE_URL": url,
        "OUTREACH_JOB_DLQ_URL": dlq_url,
        "OUTREACH_WORKSPACE": str(tmp_path),
        "COLUMNS": "200",
    }
    runner = CliRunner()

    # WHEN an operator lists the dead letters
    listed = runner.invoke(app, ["dlq", "list"], env=env)

    # THEN both show with their job, status and reason, and listing consumed nothing
    assert listed.exit_code == 0, listed.output
    assert listed.output.count("northwind") == 2 and "dead_lettered" in listed.output
    assert "transient errors exhausted" in listed.output
    assert len(queue.dead_letters()) == 2

    # WHEN they redrive all of them
    redriven = runner.invoke(app, ["dlq", "redrive", "--all"], env=env)

    # THEN the messages are back on the queue and the jobs reopened with fresh attempts
    assert redriven.exit_code == 0, redriven.output
    assert "redriven: 2" in redriven.output
    assert queue.dead_letters() == []
    assert sorted(JobMessage.load(m.body).job_id for m in queue.receive(10)) == ["q1_lead-1_1", "q1_lead-2_1"]
    for job_id in ("q1_lead-1_1", "q1_lead-2_1"):
        job = records.job("northwind", job_id)
        assert job is not None and job.status is JobStatus.QUEUED and job.attempts == 0
