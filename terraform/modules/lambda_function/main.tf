################################################################################
# Lambda function: one entrypoint of the outreach package, its role, its logs
################################################################################

# `id` is the region name on AWS provider 5 and 6 (`name` is deprecated on 6, `region` absent on 5).
data "aws_region" "current" {}

locals {
  region    = data.aws_region.current.id
  role_name = coalesce(var.role_name, "${var.name}-${local.region}")

  # A statement on an optional resource that is not created (no resources) would be an invalid policy.
  policy_statements = [for s in var.policy_statements : s if length(s.resources) > 0]
}

################################################################################
# IAM role (global: the name carries the region)
################################################################################

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name                 = local.role_name
  description          = "Runs the ${var.name} Lambda function (${var.handler})."
  assume_role_policy   = data.aws_iam_policy_document.assume.json
  permissions_boundary = var.permissions_boundary_arn
  tags                 = var.tags
}

data "aws_iam_policy_document" "code" {
  count = length(local.policy_statements) > 0 ? 1 : 0

  dynamic "statement" {
    for_each = local.policy_statements

    content {
      sid       = statement.value.sid
      actions   = statement.value.actions
      resources = statement.value.resources
    }
  }
}

resource "aws_iam_role_policy" "code" {
  count = length(local.policy_statements) > 0 ? 1 : 0

  name   = "code"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.code[0].json
}

# What the platform needs to run the function, besides what the code calls (var.policy_statements):
# writing its own log group, polling its SQS event source, its async dead-letter queue, and the
# customer-managed keys of the data it touches. tests/terraform checks both halves separately.
data "aws_iam_policy_document" "runtime" {
  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  dynamic "statement" {
    for_each = var.sqs_event_source == null ? [] : [var.sqs_event_source.queue_arn]

    content {
      sid       = "PollEventSourceQueue"
      actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = var.dead_letter_queue_arn == null ? [] : [var.dead_letter_queue_arn]

    content {
      sid       = "AsyncDeadLetters"
      actions   = ["sqs:SendMessage"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = length(var.kms_key_arns) == 0 ? [] : [var.kms_key_arns]

    content {
      sid       = "UseDataKeys"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = statement.value
    }
  }
}

resource "aws_iam_role_policy" "runtime" {
  name   = "runtime"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.runtime.json
}

################################################################################
# Log group
################################################################################

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158: CloudWatch Logs encrypts every log group at rest with an AWS key for free; a customer key costs $1/month plus requests and is offered through log_kms_key_arn (ADR 0501).
  #checkov:skip=CKV_AWS_338: Short retention is deliberate: the logs name recipients, so they are kept 30 days by default (log_retention_days), not a year.
  name              = "/aws/lambda/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags
}

################################################################################
# Function
################################################################################

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_117: No VPC: the function talks only to AWS APIs, and a VPC would need NAT gateways or interface endpoints at $7-32 per month each (ADR 0500).
  #checkov:skip=CKV_AWS_272: Code signing needs an AWS Signer profile and a signing step in CI; the package is built and deployed by the same pipeline that is the trust boundary.
  #checkov:skip=CKV_AWS_173: Lambda encrypts environment variables at rest with an AWS-managed key for free; a customer key ($1/month) is offered through kms_key_arn (ADR 0501).
  function_name = var.name
  description   = var.description
  role          = aws_iam_role.this.arn
  handler       = var.handler
  runtime       = var.runtime
  architectures = [var.architecture]
  memory_size   = var.memory_size
  timeout       = var.timeout

  filename         = var.package_path
  source_code_hash = filebase64sha256(var.package_path)

  reserved_concurrent_executions = var.reserved_concurrent_executions
  kms_key_arn                    = var.kms_key_arn

  environment {
    variables = var.environment
  }

  tracing_config {
    mode = var.tracing_mode
  }

  dynamic "dead_letter_config" {
    for_each = var.dead_letter_queue_arn == null ? [] : [var.dead_letter_queue_arn]

    content {
      target_arn = dead_letter_config.value
    }
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.this.name
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.runtime, aws_iam_role_policy.code]
}

################################################################################
# SQS event source (ReportBatchItemFailures)
################################################################################

resource "aws_lambda_event_source_mapping" "this" {
  count = var.sqs_event_source == null ? 0 : 1

  function_name                      = aws_lambda_function.this.arn
  event_source_arn                   = var.sqs_event_source.queue_arn
  batch_size                         = var.sqs_event_source.batch_size
  maximum_batching_window_in_seconds = var.sqs_event_source.maximum_batching_window_in_seconds
  function_response_types            = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.sqs_event_source.maximum_concurrency
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.reserved_concurrent_executions < 0 || var.sqs_event_source.maximum_concurrency <= var.reserved_concurrent_executions
      error_message = "sqs_event_source.maximum_concurrency must not exceed reserved_concurrent_executions: the event source would invoke more copies than may run, and throttled batches go back to the queue (and towards the DLQ)."
    }
  }
}

################################################################################
# Who may invoke it
################################################################################

resource "aws_lambda_permission" "this" {
  for_each = var.allowed_triggers

  statement_id  = each.key
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this.function_name
  principal     = each.value.principal
  source_arn    = each.value.source_arn
}
