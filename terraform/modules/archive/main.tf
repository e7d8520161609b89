################################################################################
# Archive bucket: raw provider payloads and audit batches, kept 90 days
################################################################################

data "aws_caller_identity" "current" {}

# `id` is the region name on AWS provider 5 and 6 (`name` is deprecated on 6, `region` absent on 5).
data "aws_region" "current" {}

locals {
  bucket_name = coalesce(var.bucket_name, "${var.name}-archive-${data.aws_caller_identity.current.account_id}-${data.aws_region.current.id}")
}

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_18: Server access logs would need a second bucket and add a log object per request; CloudTrail data events are the option for an audit trail of reads.
  #checkov:skip=CKV_AWS_144: Cross-region replication doubles storage and request costs for data that expires after 90 days; the archive is not the system of record (DynamoDB with PITR is).
  #checkov:skip=CKV_AWS_145: SSE-S3 (AES256) is free; SSE-KMS with a customer key ($1/month plus requests) is one setting away (kms_key_arn, ADR 0501).
  #checkov:skip=CKV2_AWS_62: Nothing reacts to new archive objects; event notifications would have no consumer.
  #checkov:skip=CKV_AWS_21: Objects are written once under unique keys and expire after 90 days; versioning would only keep deleted copies of personal data longer.
  bucket        = local.bucket_name
  force_destroy = var.force_destroy
  tags          = var.tags
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket                  = aws_s3_bucket.this.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = var.kms_key_arn != null
  }
}

################################################################################
# Expiry
################################################################################

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    id     = "expire-archive"
    status = "Enabled"

    filter {}

    expiration {
      days = var.expiration_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

################################################################################
# TLS only
################################################################################

data "aws_iam_policy_document" "this" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.this.arn,
      "${aws_s3_bucket.this.arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = data.aws_iam_policy_document.this.json

  depends_on = [aws_s3_bucket_public_access_block.this]
}
