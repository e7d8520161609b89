################################################################################
# IMAP poller: reads the SMTP identities' mailboxes on a schedule (replies, out-of-office, bounces)
################################################################################
# The function (lambda_function) with its own role: the state table, the archive (raw messages are
# kept there), the alert topic, the webhook queue (send only) and - its secrets - the SSM parameters
# under one path (mailbox passwords, OAuth refresh tokens: SecureStrings, the account's aws/ssm key).
# An EventBridge Scheduler schedule (scheduler) invokes it. Nothing else may invoke it.

# `id` is the region name on AWS provider 5 and 6 (`name` is deprecated on 6, `region` absent on 5).
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  region = data.aws_region.current.id
  # ssm:GetParameter on the parameters under the path (and nothing else of Parameter Store).
  secrets_arn = "arn:${data.aws_partition.current.partition}:ssm:${local.region}:${data.aws_caller_identity.current.account_id}:parameter${trimsuffix(var.secrets_path, "/")}/*"
}

module "this" {
  source = "../lambda_function"

  name                           = var.name
  description                    = "Reads the SMTP identities' mailboxes over IMAP: replies, auto-replies, bounce reports (EventBridge Scheduler)."
  handler                        = "entrypoints.aws.imap_poller.handler"
  package_path                   = var.package_path
  runtime                        = var.runtime
  timeout                        = var.timeout
  memory_size                    = var.memory_size
  reserved_concurrent_executions = var.reserved_concurrent_executions
  log_retention_days             = var.log_retention_days
  dead_letter_queue_arn          = var.dead_letter_queue_arn
  permissions_boundary_arn       = var.permissions_boundary_arn
  tags                           = var.tags

  environment = {
    OUTREACH_BACKEND                 = "aws"
    OUTREACH_AWS_REGION              = var.aws_region
    OUTREACH_TABLE_NAME              = var.table_name
    OUTREACH_LOG_LEVEL               = var.log_level
    OUTREACH_SES_MAX_SEND_RATE       = tostring(var.ses_max_send_rate)
    OUTREACH_SES_MAX_24H_SEND        = tostring(var.ses_max_24h_send)
    OUTREACH_MX_RESOLVER             = "dns"
    OUTREACH_ALERT_TOPIC_ARN         = var.alert_topic_arn
    OUTREACH_ALERT_WINDOW_S          = tostring(var.alert_window_seconds)
    OUTREACH_WEBHOOK_QUEUE_URL       = var.webhook_queue_url
    OUTREACH_ARCHIVE_BUCKET          = var.archive_bucket_name
    OUTREACH_ARCHIVE_KMS_KEY_ID      = ""
    OUTREACH_IMAP_BATCH              = tostring(var.batch_size)
    OUTREACH_IMAP_TIMEOUT_S          = tostring(var.imap_timeout_seconds)
    OUTREACH_UNSUBSCRIBE_SECRET      = var.unsubscribe_secret
    OUTREACH_UNSUBSCRIBE_OLD_SECRETS = join(",", var.unsubscribe_old_secrets)
    OUTREACH_METRICS_NAMESPACE       = var.metrics_namespace
  }

  policy_statements = [
    {
      sid       = "StateTable"
      actions   = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
      resources = [var.table_arn, "${var.table_arn}/index/*"]
    },
    {
      sid       = "Archive"
      actions   = ["s3:PutObject", "s3:GetObject"]
      resources = ["${var.archive_bucket_arn}/*"]
    },
    {
      sid       = "MailboxSecrets"
      actions   = ["ssm:GetParameter"]
      resources = [local.secrets_arn]
    },
    {
      sid       = "AlertTopic"
      actions   = ["sns:Publish"]
      resources = [var.alert_topic_arn]
    },
    {
      sid       = "WebhookQueue"
      actions   = ["sqs:SendMessage"]
      resources = var.webhook_queue_arns
    },
  ]
}

module "schedule" {
  source = "../scheduler"

  name                     = var.name
  permissions_boundary_arn = var.permissions_boundary_arn
  tags                     = var.tags

  schedules = {
    (var.name) = {
      function_arn           = module.this.function_arn
      schedule_expression    = var.schedule_expression
      description            = "Read every connected mailbox once (IMAP): replies, auto-replies, bounce reports."
      maximum_retry_attempts = 1
    }
  }
}
