################################################################################
# Alert topic: CloudWatch alarms, AWS Budgets and the engine's own alerts -> e-mail, Telegram
################################################################################
# CloudWatch alarms publish only to a topic in their own region, so the failover region gets an
# instance of its own, through a provider for that region (without a forwarder: it subscribes the
# primary region's forwarder, which lets it invoke through additional_topic_arns).

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

# `id` is the region name on AWS provider 5 and 6 (`name` is deprecated on 6, `region` absent on 5).
data "aws_region" "current" {}

locals {
  region            = data.aws_region.current.id
  account_id        = data.aws_caller_identity.current.account_id
  create_forwarder  = var.telegram != null
  forwarder_arn     = local.create_forwarder ? module.telegram_forwarder[0].function_arn : try(var.existing_forwarder.function_arn, null)
  subscribe_forward = local.create_forwarder || var.existing_forwarder != null
  token_parameter_arn = local.create_forwarder ? (
    "arn:${data.aws_partition.current.partition}:ssm:${local.region}:${local.account_id}:parameter/${trimprefix(var.telegram.token_parameter_name, "/")}"
  ) : null
}

resource "aws_sns_topic" "this" {
  #checkov:skip=CKV_AWS_26: CloudWatch alarms and AWS Budgets cannot publish to a topic encrypted with the AWS-managed aws/sns key; a customer key costs $1/month per region and is offered through kms_key_arn (ADR 0501). Alerts carry metric names and states, not message content.
  name              = "${var.name}-alerts"
  signature_version = 2
  kms_master_key_id = var.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "this" {
  statement {
    sid       = "AccountOwnerManagesTheTopic"
    actions   = ["sns:Publish", "sns:Subscribe", "sns:GetTopicAttributes", "sns:SetTopicAttributes", "sns:ListSubscriptionsByTopic"]
    resources = [aws_sns_topic.this.arn]

    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "AlarmsAndBudgetsPublish"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.this.arn]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com", "budgets.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "this" {
  arn    = aws_sns_topic.this.arn
  policy = data.aws_iam_policy_document.this.json
}

resource "aws_sns_topic_subscription" "email" {
  for_each = toset(var.email_addresses)

  topic_arn = aws_sns_topic.this.arn
  protocol  = "email"
  endpoint  = each.value
}

################################################################################
# Telegram forwarder (observe branch: entrypoints/alert_relay.py)
################################################################################

module "telegram_forwarder" {
  source = "../lambda_function"
  count  = local.create_forwarder ? 1 : 0

  name                           = "${var.name}-alert-relay"
  description                    = "Forwards CloudWatch alarms and AWS Budgets notifications from the alert topic to Telegram."
  handler                        = var.telegram.handler
  package_path                   = var.package_path
  runtime                        = var.runtime
  timeout                        = 15
  memory_size                    = 128
  reserved_concurrent_executions = var.forwarder_reserved_concurrency
  log_retention_days             = var.log_retention_days
  dead_letter_queue_arn          = var.dead_letter_queue_arn

  environment = {
    OUTREACH_AWS_REGION               = local.region
    OUTREACH_TELEGRAM_CHAT_ID         = var.telegram.chat_id
    OUTREACH_TELEGRAM_TOKEN_PARAMETER = var.telegram.token_parameter_name
    OUTREACH_LOG_LEVEL                = "WARNING"
  }

  # The bot token is a SecureString under the account's aws/ssm key, whose key policy lets any
  # principal of the account decrypt through SSM: no kms statement is needed.
  policy_statements = [
    {
      sid       = "ReadTelegramToken"
      actions   = ["ssm:GetParameter"]
      resources = [local.token_parameter_arn]
    },
  ]

  allowed_triggers = merge(
    {
      AlertTopic = {
        principal  = "sns.amazonaws.com"
        source_arn = aws_sns_topic.this.arn
      }
    },
    {
      for label, arn in var.additional_topic_arns : "AlertTopic-${label}" => {
        principal  = "sns.amazonaws.com"
        source_arn = arn
      }
    },
  )

  tags = var.tags
}

resource "aws_sns_topic_subscription" "forwarder" {
  count = local.subscribe_forward ? 1 : 0

  topic_arn = aws_sns_topic.this.arn
  protocol  = "lambda"
  endpoint  = local.forwarder_arn
}
