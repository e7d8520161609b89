################################################################################
# EventBridge Scheduler: a schedule group, its schedules and the role they invoke with
################################################################################

# `id` is the region name on AWS provider 5 and 6 (`name` is deprecated on 6, `region` absent on 5).
data "aws_region" "current" {}

locals {
  region    = data.aws_region.current.id
  role_name = coalesce(var.role_name, "${var.name}-scheduler-${local.region}")
}

resource "aws_scheduler_schedule_group" "this" {
  name = var.name
  tags = var.tags
}

resource "aws_scheduler_schedule" "this" {
  #checkov:skip=CKV_AWS_297: The schedule's input is a fixed, non-secret JSON document; EventBridge Scheduler encrypts it with an AWS-owned key for free, and a customer key ($1/month) is offered through kms_key_arn (ADR 0501).
  for_each = var.schedules

  name                         = each.key
  group_name                   = aws_scheduler_schedule_group.this.name
  description                  = each.value.description
  schedule_expression          = each.value.schedule_expression
  schedule_expression_timezone = each.value.timezone
  state                        = each.value.enabled ? "ENABLED" : "DISABLED"
  kms_key_arn                  = var.kms_key_arn

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = each.value.function_arn
    role_arn = aws_iam_role.this.arn
    input    = each.value.input

    retry_policy {
      maximum_retry_attempts       = each.value.maximum_retry_attempts
      maximum_event_age_in_seconds = each.value.maximum_event_age_in_seconds
    }
  }
}

################################################################################
# IAM role (global: the name carries the region)
################################################################################

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

data "aws_caller_identity" "current" {}

resource "aws_iam_role" "this" {
  name                 = local.role_name
  description          = "Lets EventBridge Scheduler invoke the ${var.name} targets."
  assume_role_policy   = data.aws_iam_policy_document.assume.json
  permissions_boundary = var.permissions_boundary_arn
  tags                 = var.tags
}

data "aws_iam_policy_document" "invoke" {
  statement {
    sid       = "InvokeScheduledFunctions"
    actions   = ["lambda:InvokeFunction"]
    resources = distinct([for s in values(var.schedules) : s.function_arn])
  }
}

resource "aws_iam_role_policy" "invoke" {
  name   = "invoke"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.invoke.json
}
