"""Archive on S3: the caller's keys (tenant- and date-partitioned, batched by the caller), encrypted.

References are `s3://<bucket>/<key>`. Server-side encryption is always requested: SSE-KMS with the
given key, else SSE-S3 (AES256), which costs nothing extra (a KMS key costs $1 a month).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

IAM_ACTIONS = frozenset({"s3:PutObject", "s3:GetObject"})
_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})


class S3Archive:
    def __init__(self, client: S3Client, bucket: str, *, kms_key_id: str = "") -> None:
        if not bucket:
            raise ValueError("the S3 archive needs a bucket name")
        self.client = client
        self.bucket = bucket
        self.kms_key_id = kms_key_id

    def put(self, key: str, body: bytes, content_type: str = "application/json") -> str:
        if not key or key.startswith("/") or ".." in key.split("/"):
            raise ValueError(f"archive key must be a relative path: {key!r}")
        encryption: dict[str, Any] = (
            {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key_id}
            if self.kms_key_id
            else {"ServerSideEncryption": "AES256"}
        )
        self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type, **encryption)
        return f"s3://{self.bucket}/{key}"

    def get(self, ref: str) -> bytes:
        bucket, _, key = ref.removeprefix("s3://").partition("/")
        if not ref.startswith("s3://") or bucket != self.bucket or not key:
            raise KeyError(ref)
        try:
            response = self.client.get_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code", "")) in _MISSING:
                raise KeyError(ref) from None
            raise
        return response["Body"].read()
