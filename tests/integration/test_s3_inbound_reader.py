"""The inbound reader on moto's in-process S3: reads the configured bucket only."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from adapters.aws.s3_objects import S3ObjectReader


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        client = boto3.client("s3", region_name="eu-west-1")
        for bucket in ("outreach-inbound", "someone-else"):
            client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        yield client


def test_it_reads_a_stored_message_from_the_inbound_bucket_only(s3: Any) -> None:
    s3.put_object(Bucket="outreach-inbound", Key="inbound/abc", Body=b"From: a@b.example\n\nhi\n")
    s3.put_object(Bucket="someone-else", Key="inbound/abc", Body=b"secret")
    reader = S3ObjectReader(s3, buckets={"outreach-inbound"}, prefix="inbound/")
    assert reader("outreach-inbound", "inbound/abc") == b"From: a@b.example\n\nhi\n"
    with pytest.raises(ValueError, match="not the inbound bucket"):
        reader("someone-else", "inbound/abc")
    with pytest.raises(ValueError, match="not the inbound bucket"):
        reader("outreach-inbound", "other/abc")
    with pytest.raises(ValueError, match="needs the bucket"):
        S3ObjectReader(s3, buckets=[])
