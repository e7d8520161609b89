# SES inbound for stop-on-reply: a receipt rule stores each received message in S3 and publishes a
# notification (bucket + key) to SNS; the engine's reader (Lambda or the worker's POST /sns) fetches
# the message, matches it to our sent mail and stops or postpones the sequence.

data "aws_caller_identity" "current" {}

# `id` is the region name on AWS provider 5 and 6 (`name` is deprecated on 6, `region` absent on 5).
data "aws_region" "current" {}

data "aws_partition" "current" {}

locals {
  account_id      = data.aws_caller_identity.current.account_id
  region          = data.aws_region.current.id
  partition       = data.aws_partition.current.partition
  create_rule_set = var.existing_rule_set_name == null
  rule_set_name   = local.create_rule_set ? "${var.name}-inbound" : var.existing_rule_set_name
  rule_name       = "${var.name}-replies"
  rule_arn        = "arn:${local.partition}:ses:${local.region}:${local.account_id}:receipt-rule-set/${local.rule_set_name}:receipt-rule/${local.rule_name}"
  bucket_name     = coalesce(var.bucket_name, "${var.name}-inbound-${local.account_id}")
  tags            = merge({ Module = "ses_inbound" }, var.tags)
}

# --- the bucket for received messages --------------------------------------------------------------

resource "aws_s3_bucket" "inbound" {
  #checkov:skip=CKV_AWS_18: Server access logs would need a second bucket and log every SES write; received mail expires within days anyway.
  #checkov:skip=CKV_AWS_144: Replies expire after retention_days and are read within minutes; replicating personal data to a second region would only spread it.
  #checkov:skip=CKV_AWS_21: Each message is written once under SES's unique message id; versioning would keep deleted copies of personal data past their expiry.
  #checkov:skip=CKV2_AWS_62: The receipt rule itself notifies SNS for each stored message; S3 event notifications would duplicate that.
  bucket        = local.bucket_name
  force_destroy = var.force_destroy
  tags          = local.tags
}

resource "aws_s3_bucket_ownership_controls" "inbound" {
  bucket = aws_s3_bucket.inbound.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "inbound" {
  bucket                  = aws_s3_bucket.inbound.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "inbound" {
  bucket = aws_s3_bucket.inbound.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = var.kms_key_arn != null
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "inbound" {
  #checkov:skip=CKV_AWS_300: Incomplete uploads are aborted after a day under object_key_prefix, the only place SES writes to this bucket.
  bucket = aws_s3_bucket.inbound.id

  rule {
    id     = "expire-received-mail"
    status = "Enabled"

    filter {
      prefix = var.object_key_prefix
    }

    expiration {
      days = var.retention_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

data "aws_iam_policy_document" "bucket" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.inbound.arn,
      "${aws_s3_bucket.inbound.arn}/*",
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

  statement {
    sid       = "AllowSesReceiptRuleToStoreMail"
    effect    = "Allow"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.inbound.arn}/${var.object_key_prefix}*"]

    principals {
      type        = "Service"
      identifiers = ["ses.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    # The full receipt-rule ARN: a rule-set ARN would also admit rules added to the set later.
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [local.rule_arn]
    }
  }
}

resource "aws_s3_bucket_policy" "inbound" {
  bucket = aws_s3_bucket.inbound.id
  policy = data.aws_iam_policy_document.bucket.json

  depends_on = [aws_s3_bucket_public_access_block.inbound]
}

# --- the notification topic ------------------------------------------------------------------------

resource "aws_sns_topic" "inbound" {
  name              = "${var.name}-inbound"
  signature_version = var.topic_signature_version
  kms_master_key_id = var.kms_key_arn
  tags              = local.tags
}

data "aws_iam_policy_document" "topic" {
  statement {
    sid       = "AllowSesReceiptRuleToPublish"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.inbound.arn]

    principals {
      type        = "Service"
      identifiers = ["ses.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [local.rule_arn]
    }
  }
}

resource "aws_sns_topic_policy" "inbound" {
  arn    = aws_sns_topic.inbound.arn
  policy = data.aws_iam_policy_document.topic.json
}

# --- the receipt rule ------------------------------------------------------------------------------

resource "aws_ses_receipt_rule_set" "this" {
  count         = local.create_rule_set ? 1 : 0
  rule_set_name = local.rule_set_name
}

resource "aws_ses_active_receipt_rule_set" "this" {
  count         = local.create_rule_set && var.activate_rule_set ? 1 : 0
  rule_set_name = aws_ses_receipt_rule_set.this[0].rule_set_name
}

resource "aws_ses_receipt_rule" "replies" {
  name          = local.rule_name
  rule_set_name = local.create_rule_set ? aws_ses_receipt_rule_set.this[0].rule_set_name : local.rule_set_name
  recipients    = var.recipients
  enabled       = true
  scan_enabled  = var.scan_enabled
  tls_policy    = var.tls_policy

  s3_action {
    position          = 1
    bucket_name       = aws_s3_bucket.inbound.id
    object_key_prefix = var.object_key_prefix
    topic_arn         = aws_sns_topic.inbound.arn
    kms_key_arn       = var.kms_key_arn
  }

  # SES checks that it may write and publish when the rule is created.
  depends_on = [aws_s3_bucket_policy.inbound, aws_sns_topic_policy.inbound]
}

# --- who reads the notifications -------------------------------------------------------------------

# Keyed by a label known at plan time: a function ARN is only known after apply.
resource "aws_sns_topic_subscription" "lambda" {
  for_each  = var.subscriber_lambda_arns
  topic_arn = aws_sns_topic.inbound.arn
  protocol  = "lambda"
  endpoint  = each.value
}

resource "aws_lambda_permission" "sns" {
  for_each      = var.subscriber_lambda_arns
  statement_id  = "AllowInboundTopic-${var.name}-${each.key}"
  action        = "lambda:InvokeFunction"
  function_name = each.value
  principal     = "sns.amazonaws.com"
  source_arn    = aws_sns_topic.inbound.arn
}

resource "aws_sns_topic_subscription" "https" {
  count                  = var.subscriber_https_endpoint == null ? 0 : 1
  topic_arn              = aws_sns_topic.inbound.arn
  protocol               = "https"
  endpoint               = var.subscriber_https_endpoint
  endpoint_auto_confirms = true # the worker's POST /sns confirms a verified SubscriptionConfirmation
}

# --- MX: mail for the recipient domains goes to SES inbound in this region -------------------------

resource "aws_route53_record" "mx" {
  for_each = var.route53_zone_id == null ? toset([]) : toset(var.mx_domains)
  zone_id  = var.route53_zone_id
  name     = each.value
  type     = "MX"
  ttl      = 300
  records  = ["10 inbound-smtp.${local.region}.amazonaws.com"]
}
