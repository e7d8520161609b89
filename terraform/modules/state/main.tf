################################################################################
# State table: the single table of adapters/aws/dynamodb_store.py
################################################################################
# pk/sk strings, a sparse GSI `by_index_key` on `ik` (provider message id -> job) projecting every
# attribute (the adapter reads whole items from it), TTL on `expires_at` (epoch seconds).

locals {
  # enabled = false is DynamoDB's default: an AWS-owned key, free. true without a key ARN: the
  # AWS-managed aws/dynamodb key (no monthly fee, KMS requests billed). A key ARN: a customer key.
  sse_enabled = var.encryption == "aws_owned" ? false : true
}

resource "aws_dynamodb_table" "this" {
  #checkov:skip=CKV_AWS_119: Encrypted at rest either way; a customer-managed key costs $1/month plus requests and is one setting away (encryption = "customer_managed", ADR 0501).
  name         = var.name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"
  range_key    = "sk"

  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "S"
  }

  attribute {
    name = "ik"
    type = "S"
  }

  global_secondary_index {
    name            = "by_index_key"
    hash_key        = "ik"
    projection_type = "ALL"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = var.point_in_time_recovery
  }

  server_side_encryption {
    enabled     = local.sse_enabled
    kms_key_arn = var.encryption == "customer_managed" ? var.kms_key_arn : null
  }

  tags = var.tags
}
