"""SQS redrive and visibility rules, the sender's event source, and the 90-day archive."""

from __future__ import annotations

import re

from tests.terraform import tfconfig


def test_the_job_queue_redrives_to_its_dlq_after_few_receives(modules: dict[str, tfconfig.Config]) -> None:
    queue = modules["queue"]
    main = queue.resource("aws_sqs_queue", "this")
    assert main["redrive_policy"] == (
        "${jsonencode({deadLetterTargetArn = aws_sqs_queue.dlq.arn, "
        "maxReceiveCount = var.max_receive_count})}"
    )
    max_receive = queue.variables()["max_receive_count"]
    assert max_receive["default"] <= 5
    assert max_receive["validation"][0]["condition"] == (
        "${var.max_receive_count >= 1 && var.max_receive_count <= 10}"
    )


def test_visibility_is_at_least_six_times_the_sender_timeout(
    example: tfconfig.Config, modules: dict[str, tfconfig.Config]
) -> None:
    queue = modules["queue"]
    assert queue.resource("aws_sqs_queue", "this")["visibility_timeout_seconds"] == (
        "${local.visibility_timeout_seconds}"
    )
    assert queue.blocks["locals"][0]["visibility_timeout_seconds"] == (
        "${var.consumer_timeout_seconds * var.visibility_timeout_multiplier}"
    )
    multiplier = queue.variables()["visibility_timeout_multiplier"]
    assert multiplier["default"] >= 6
    assert multiplier["validation"][0]["condition"] == "${var.visibility_timeout_multiplier >= 6}"
    # The root hands the queue the very value the sender runs with, and may not weaken the multiplier.
    root_queue, sender = example.modules()["queue"], example.modules()["sender"]
    assert root_queue["consumer_timeout_seconds"] == sender["timeout"] == "${var.sender_timeout_seconds}"
    assert root_queue.get("visibility_timeout_multiplier", 6) >= 6
    assert root_queue["max_receive_count"] <= 5
    # The sender dead-letters a message (and its job) on the queue's last receive: the same number.
    assert sender["environment"]["OUTREACH_MAX_RECEIVES"] == str(root_queue["max_receive_count"])


def test_both_queues_are_encrypted_and_tls_only(modules: dict[str, tfconfig.Config]) -> None:
    queue = modules["queue"]
    for name in ("this", "dlq"):
        body = queue.resource("aws_sqs_queue", name)
        assert body["sqs_managed_sse_enabled"] == "${local.sse_with_kms ? null : true}"
        assert body["kms_master_key_id"] == "${var.kms_key_arn}"
        assert queue.resource("aws_sqs_queue_policy", name)["policy"].endswith(".json}")
    statement = tfconfig.document_statements(queue.data("aws_iam_policy_document", "tls_only"))[0]
    assert statement["effect"] == "Deny"
    assert statement["condition"][0]["variable"] == "aws:SecureTransport"


def test_the_sender_reads_the_queue_with_partial_batch_failures(
    example: tfconfig.Config, modules: dict[str, tfconfig.Config]
) -> None:
    mapping = modules["lambda_function"].resource("aws_lambda_event_source_mapping", "this")
    assert mapping["function_response_types"] == ["ReportBatchItemFailures"]
    assert mapping["scaling_config"] == [
        {"maximum_concurrency": "${var.sqs_event_source.maximum_concurrency}"}
    ]
    [precondition] = mapping["lifecycle"][0]["precondition"]
    assert "maximum_concurrency <= var.reserved_concurrent_executions" in precondition["condition"]
    source = example.modules()["sender"]["sqs_event_source"]
    assert source["queue_arn"] == "${module.queue.queue_arn}"
    assert "maximum_concurrency" in source
    assert "reserved_concurrent_executions" in example.modules()["sender"]


def test_the_archive_expires_after_90_days(
    example: tfconfig.Config, modules: dict[str, tfconfig.Config]
) -> None:
    archive = modules["archive"]
    rule = archive.resource("aws_s3_bucket_lifecycle_configuration", "this")["rule"][0]
    assert rule["status"] == "Enabled"
    assert rule["filter"] == [{}]  # the whole bucket
    assert rule["expiration"] == [{"days": "${var.expiration_days}"}]
    assert archive.variables()["expiration_days"]["default"] == 90
    assert example.modules()["archive"]["expiration_days"] == 90


def test_the_archive_is_private_encrypted_and_tls_only(modules: dict[str, tfconfig.Config]) -> None:
    archive = modules["archive"]
    block = archive.resource("aws_s3_bucket_public_access_block", "this")
    assert all(
        block[k] is True
        for k in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
    )
    sse = archive.resource("aws_s3_bucket_server_side_encryption_configuration", "this")
    assert sse["rule"][0]["apply_server_side_encryption_by_default"][0]["sse_algorithm"] == (
        '${var.kms_key_arn == null ? "AES256" : "aws:kms"}'
    )
    statement = tfconfig.document_statements(archive.data("aws_iam_policy_document", "this"))[0]
    assert (statement["effect"], statement["actions"]) == ("Deny", ["s3:*"])
    assert statement["condition"][0] == {
        "test": "Bool",
        "variable": "aws:SecureTransport",
        "values": ["false"],
    }


def test_the_example_tfvars_and_backend_parse_and_lock_the_state() -> None:
    """The example files are meant to be copied: they must stay well-formed HCL."""
    for name in ("terraform.tfvars.example", "backend.tf.example"):
        assert tfconfig.parse_file(tfconfig.ENVS / "example" / name), name
    backend = (tfconfig.ENVS / "example" / "backend.tf.example").read_text(encoding="utf-8")
    assert re.search(r"use_lockfile\s*=\s*true", backend)
    assert re.search(r"encrypt\s*=\s*true", backend)
