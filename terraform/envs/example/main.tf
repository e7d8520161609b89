# The outreach stack in one account: SES in a primary and a failover region, and everything else in
# the primary region. Which function may do what, and which settings it reads, come from the code
# (src/entrypoints/aws/manifest.py); tests/terraform checks this file against it.

locals {
  name              = "${var.project}-${var.environment}"
  configuration_set = coalesce(var.configuration_set_name, local.name)

  tags = merge(var.extra_tags, {
    Project     = var.project
    Environment = var.environment
    ManagedBy   = "terraform"
  })

  # Where SendEmail is authorised: the identities and the configuration set of both regions.
  ses_resources = concat(
    values(module.ses_primary.identity_arns),
    values(module.ses_failover.identity_arns),
    [module.ses_primary.configuration_set_arn, module.ses_failover.configuration_set_arn],
  )
  table_resources = [module.state.table_arn, "${module.state.table_arn}/index/*"]
  queue_resources = [module.queue.queue_arn, module.queue.dlq_arn]

  # Received replies: the feedback function reads the objects SES stored under the prefix, nothing
  # else of the bucket (empty without inbound: lambda_function then leaves the statement out).
  inbound_prefix           = "inbound/"
  inbound_object_resources = var.inbound == null ? [] : ["${module.inbound[0].bucket_arn}/${module.inbound[0].object_key_prefix}*"]
  inbound_kms_key_arns     = try(var.inbound.kms_key_arn, null) == null ? [] : [var.inbound.kms_key_arn]

  # Webhooks (optional): every function that can set off an event may send to the delivery queue.
  webhook_queue_url       = var.enable_webhooks ? module.webhook_queue[0].queue_url : ""
  webhook_queue_resources = var.enable_webhooks ? [module.webhook_queue[0].queue_arn] : []

  # Secrets in SSM Parameter Store, by path: mailbox secrets (the sender, the IMAP poller) and webhook
  # signing secrets (the webhook function). Only ssm: references of identities and endpoints are stored.
  mailbox_secrets_path = coalesce(var.mailbox_secrets_path, "/${var.project}/${var.environment}/mailboxes/")
  webhook_secrets_path = coalesce(var.webhook_secrets_path, "/${var.project}/${var.environment}/webhooks/")
  ssm_parameter_arn    = "arn:${data.aws_partition.current.partition}:ssm:${var.primary_region}:${data.aws_caller_identity.current.account_id}:parameter"
  mailbox_secrets_arns = ["${local.ssm_parameter_arn}${trimsuffix(local.mailbox_secrets_path, "/")}/*"]
  webhook_secrets_arns = ["${local.ssm_parameter_arn}${trimsuffix(local.webhook_secrets_path, "/")}/*"]
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

################################################################################
# SES: the same identities and configuration set in both regions
################################################################################

module "ses_primary" {
  source = "../../modules/ses_region"

  name                   = local.name
  domains                = var.sending_domains
  configuration_set_name = local.configuration_set
  route53_zone_ids       = var.route53_zone_ids
  dmarc_record           = var.dmarc_record
  publish_dmarc          = true
}

module "ses_failover" {
  source    = "../../modules/ses_region"
  providers = { aws = aws.failover }

  name                   = local.name
  domains                = var.sending_domains
  configuration_set_name = local.configuration_set
  route53_zone_ids       = var.route53_zone_ids
  publish_dmarc          = false # one DMARC record per domain, published with the primary
}

################################################################################
# State, queue, archive
################################################################################

module "state" {
  source = "../../modules/state"

  name                = local.name
  deletion_protection = var.deletion_protection
}

module "queue" {
  source = "../../modules/queue"

  name                     = "${local.name}-jobs"
  consumer_timeout_seconds = var.sender_timeout_seconds
  max_receive_count        = 3 # = the sender's OUTREACH_MAX_RECEIVES
}

module "archive" {
  source = "../../modules/archive"

  name            = local.name
  expiration_days = 90
  force_destroy   = !var.deletion_protection
}

# Asynchronous invocations (SES events via SNS, planner ticks, alerts) that failed after Lambda's
# two retries: kept 14 days for a person, alarmed on by the observability module.
resource "aws_sqs_queue" "failed_invocations" {
  name                      = "${local.name}-failed-invocations"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
}

################################################################################
# Functions (src/entrypoints/aws/manifest.py)
################################################################################

module "planner" {
  source = "../../modules/lambda_function"

  name                           = "${local.name}-planner"
  description                    = "Plans due campaign steps and enqueues jobs (EventBridge Scheduler)."
  handler                        = "entrypoints.aws.planner.handler"
  package_path                   = var.lambda_package_path
  runtime                        = var.lambda_runtime
  timeout                        = 120
  memory_size                    = 512
  reserved_concurrent_executions = var.reserved_concurrency.planner
  log_retention_days             = var.log_retention_days
  dead_letter_queue_arn          = aws_sqs_queue.failed_invocations.arn

  environment = {
    OUTREACH_BACKEND           = "aws"
    OUTREACH_AWS_REGION        = var.primary_region
    OUTREACH_TABLE_NAME        = module.state.table_name
    OUTREACH_LOG_LEVEL         = var.log_level
    OUTREACH_SES_MAX_SEND_RATE = tostring(var.ses_max_send_rate)
    OUTREACH_SES_MAX_24H_SEND  = tostring(var.ses_max_24h_send)
    OUTREACH_MX_RESOLVER       = "dns"
    OUTREACH_JOB_QUEUE_URL     = module.queue.queue_url
    OUTREACH_JOB_DLQ_URL       = module.queue.dlq_url
    OUTREACH_PLANNER_HORIZON_S = tostring(var.planner_horizon_seconds)
    OUTREACH_ALERT_TOPIC_ARN   = module.alerts.topic_arn
    OUTREACH_ALERT_WINDOW_S    = tostring(var.alert_window_seconds)
    OUTREACH_METRICS_NAMESPACE = var.metrics_namespace
    OUTREACH_WEBHOOK_QUEUE_URL = local.webhook_queue_url
  }

  policy_statements = [
    {
      sid       = "StateTable"
      actions   = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
      resources = local.table_resources
    },
    {
      sid       = "JobQueues"
      actions   = ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"]
      resources = local.queue_resources
    },
    {
      sid       = "QueueAgeMetric" # GetMetricData has no resource-level permissions
      actions   = ["cloudwatch:GetMetricData"]
      resources = ["*"]
    },
    {
      sid       = "WebhookQueue" # send only: deliveries of the events this function sets off
      actions   = ["sqs:SendMessage"]
      resources = local.webhook_queue_resources
    },
    {
      sid       = "AlertTopic"
      actions   = ["sns:Publish"]
      resources = [module.alerts.topic_arn]
    },
  ]
}

module "sender" {
  source = "../../modules/lambda_function"

  name                           = "${local.name}-sender"
  description                    = "Sends queued jobs through SES, failing over to the second region (SQS event source)."
  handler                        = "entrypoints.aws.sender.handler"
  package_path                   = var.lambda_package_path
  runtime                        = var.lambda_runtime
  timeout                        = var.sender_timeout_seconds
  memory_size                    = 256
  reserved_concurrent_executions = var.reserved_concurrency.sender
  log_retention_days             = var.log_retention_days

  sqs_event_source = {
    queue_arn           = module.queue.queue_arn
    batch_size          = var.sender_batch_size
    maximum_concurrency = var.sender_maximum_concurrency
  }

  environment = {
    OUTREACH_BACKEND               = "aws"
    OUTREACH_AWS_REGION            = var.primary_region
    OUTREACH_TABLE_NAME            = module.state.table_name
    OUTREACH_LOG_LEVEL             = var.log_level
    OUTREACH_SES_MAX_SEND_RATE     = tostring(var.ses_max_send_rate)
    OUTREACH_SES_MAX_24H_SEND      = tostring(var.ses_max_24h_send)
    OUTREACH_MX_RESOLVER           = "dns"
    OUTREACH_JOB_QUEUE_URL         = module.queue.queue_url
    OUTREACH_JOB_DLQ_URL           = module.queue.dlq_url
    OUTREACH_AWS_FAILOVER_REGION   = var.failover_region
    OUTREACH_SES_CONFIGURATION_SET = local.configuration_set
    OUTREACH_FAILOVER_THRESHOLD    = tostring(var.failover_threshold)
    OUTREACH_FAILOVER_COOL_DOWN_S  = tostring(var.failover_cool_down_seconds)
    OUTREACH_UNSUBSCRIBE_BASE_URL  = "${module.unsubscribe_endpoint.url}/unsubscribe"
    OUTREACH_UNSUBSCRIBE_SECRET    = var.unsubscribe_secret
    OUTREACH_SENDER_LEASE_S        = tostring(var.sender_lease_seconds)
    OUTREACH_MAX_ATTEMPTS          = tostring(var.max_attempts)
    OUTREACH_MAX_RECEIVES          = "3" # = module.queue's max_receive_count: the last receive dead-letters
    OUTREACH_METRICS_NAMESPACE     = var.metrics_namespace
    OUTREACH_ALERT_TOPIC_ARN       = module.alerts.topic_arn
    OUTREACH_ALERT_WINDOW_S        = tostring(var.alert_window_seconds)
    OUTREACH_WEBHOOK_QUEUE_URL     = local.webhook_queue_url
  }

  policy_statements = [
    {
      sid       = "StateTable"
      actions   = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
      resources = local.table_resources
    },
    {
      sid       = "JobQueues"
      actions   = ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"]
      resources = local.queue_resources
    },
    {
      sid       = "QueueAgeMetric" # GetMetricData has no resource-level permissions
      actions   = ["cloudwatch:GetMetricData"]
      resources = ["*"]
    },
    {
      sid       = "MailboxSecrets" # identities' own SMTP accounts: their ssm: password references
      actions   = ["ssm:GetParameter"]
      resources = local.mailbox_secrets_arns
    },
    {
      sid       = "SendFromOurIdentitiesInBothRegions"
      actions   = ["ses:SendEmail"]
      resources = local.ses_resources
    },
    {
      sid       = "WebhookQueue" # send only: deliveries of the events this function sets off
      actions   = ["sqs:SendMessage"]
      resources = local.webhook_queue_resources
    },
    {
      sid       = "AlertTopic"
      actions   = ["sns:Publish"]
      resources = [module.alerts.topic_arn]
    },
  ]
}

module "feedback" {
  source = "../../modules/lambda_function"

  name                           = "${local.name}-feedback"
  description                    = "Archives and applies SES events of both regions and, with inbound, replies stored by SES (SNS)."
  handler                        = "entrypoints.aws.feedback.handler"
  package_path                   = var.lambda_package_path
  runtime                        = var.lambda_runtime
  timeout                        = 60
  memory_size                    = 256
  reserved_concurrent_executions = var.reserved_concurrency.feedback
  log_retention_days             = var.log_retention_days
  dead_letter_queue_arn          = aws_sqs_queue.failed_invocations.arn

  environment = {
    OUTREACH_BACKEND                 = "aws"
    OUTREACH_AWS_REGION              = var.primary_region
    OUTREACH_TABLE_NAME              = module.state.table_name
    OUTREACH_LOG_LEVEL               = var.log_level
    OUTREACH_SES_MAX_SEND_RATE       = tostring(var.ses_max_send_rate)
    OUTREACH_SES_MAX_24H_SEND        = tostring(var.ses_max_24h_send)
    OUTREACH_MX_RESOLVER             = "dns"
    OUTREACH_ARCHIVE_BUCKET          = module.archive.bucket_name
    OUTREACH_ARCHIVE_KMS_KEY_ID      = ""
    OUTREACH_UNSUBSCRIBE_SECRET      = var.unsubscribe_secret
    OUTREACH_UNSUBSCRIBE_OLD_SECRETS = join(",", var.unsubscribe_old_secrets)
    OUTREACH_METRICS_NAMESPACE       = var.metrics_namespace
    OUTREACH_ALERT_TOPIC_ARN         = module.alerts.topic_arn
    OUTREACH_ALERT_WINDOW_S          = tostring(var.alert_window_seconds)
    # Replies stored by the SES receipt rule (module.inbound); "" = no inbound reader.
    OUTREACH_INBOUND_BUCKET    = var.inbound == null ? "" : module.inbound[0].bucket_name
    OUTREACH_INBOUND_PREFIX    = local.inbound_prefix
    OUTREACH_WEBHOOK_QUEUE_URL = local.webhook_queue_url
  }

  policy_statements = [
    {
      sid       = "StateTable"
      actions   = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
      resources = local.table_resources
    },
    {
      sid       = "Archive"
      actions   = ["s3:PutObject", "s3:GetObject"]
      resources = ["${module.archive.bucket_arn}/*"]
    },
    {
      sid       = "InboundMail"
      actions   = ["s3:GetObject"]
      resources = local.inbound_object_resources
    },
    {
      sid       = "WebhookQueue" # send only: deliveries of the events this function sets off
      actions   = ["sqs:SendMessage"]
      resources = local.webhook_queue_resources
    },
    {
      sid       = "AlertTopic"
      actions   = ["sns:Publish"]
      resources = [module.alerts.topic_arn]
    },
  ]

  # With a customer key on the inbound bucket: kms:Decrypt to read what SES stored.
  kms_key_arns = local.inbound_kms_key_arns

  allowed_triggers = {
    SesEventsPrimary = {
      principal  = "sns.amazonaws.com"
      source_arn = module.ses_primary.event_topic_arn
    }
    SesEventsFailover = {
      principal  = "sns.amazonaws.com"
      source_arn = module.ses_failover.event_topic_arn
    }
  }
}

module "unsubscribe" {
  source = "../../modules/lambda_function"

  name                           = "${local.name}-unsubscribe"
  description                    = "RFC 8058 one-click unsubscribe endpoint (behind the HTTP API)."
  handler                        = "entrypoints.aws.unsubscribe.handler"
  package_path                   = var.lambda_package_path
  runtime                        = var.lambda_runtime
  timeout                        = 10
  memory_size                    = 256
  reserved_concurrent_executions = var.reserved_concurrency.unsubscribe
  log_retention_days             = var.log_retention_days

  environment = {
    OUTREACH_BACKEND                 = "aws"
    OUTREACH_AWS_REGION              = var.primary_region
    OUTREACH_TABLE_NAME              = module.state.table_name
    OUTREACH_LOG_LEVEL               = var.log_level
    OUTREACH_UNSUBSCRIBE_SECRET      = var.unsubscribe_secret
    OUTREACH_UNSUBSCRIBE_OLD_SECRETS = join(",", var.unsubscribe_old_secrets)
    OUTREACH_METRICS_NAMESPACE       = var.metrics_namespace
    OUTREACH_WEBHOOK_QUEUE_URL       = local.webhook_queue_url
  }

  policy_statements = [
    {
      sid       = "StateTable"
      actions   = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
      resources = local.table_resources
    },
    {
      sid       = "WebhookQueue" # send only: deliveries of the events this function sets off
      actions   = ["sqs:SendMessage"]
      resources = local.webhook_queue_resources
    },
  ]
}

# The public one-click endpoint: an HTTP API whose routes alone may invoke the unsubscribe function
# (the methods src/adapters/web.py answers: POST one-click, GET the page, HEAD for link checkers);
# optionally on a name of the sending domain.
module "unsubscribe_endpoint" {
  source = "../../modules/http_endpoint"

  name                = "${local.name}-unsubscribe"
  description         = "RFC 8058 one-click unsubscribe (POST) and its confirmation page (GET)."
  routes              = ["POST /unsubscribe/{token}", "GET /unsubscribe/{token}", "HEAD /unsubscribe/{token}"]
  function_name       = module.unsubscribe.function_name
  function_invoke_arn = module.unsubscribe.invoke_arn
  log_retention_days  = var.log_retention_days
  custom_domain       = var.unsubscribe_domain
}

# SES events of both regions reach the one feedback function: the failover region's topic (and so
# its subscription) lives there, the function in the primary region.
resource "aws_sns_topic_subscription" "ses_events_primary" {
  topic_arn = module.ses_primary.event_topic_arn
  protocol  = "lambda"
  endpoint  = module.feedback.function_arn
}

resource "aws_sns_topic_subscription" "ses_events_failover" {
  provider = aws.failover

  topic_arn = module.ses_failover.event_topic_arn
  protocol  = "lambda"
  endpoint  = module.feedback.function_arn
}

################################################################################
# Replies (optional): SES receipt rule -> S3 -> SNS -> feedback
################################################################################
# Receipt rules exist only in the regions where SES receives mail (docs/deploy.md): the primary
# region must be one of them to turn this on.

module "inbound" {
  source = "../../modules/ses_inbound"
  count  = var.inbound == null ? 0 : 1

  name                   = local.name
  recipients             = var.inbound.recipients
  existing_rule_set_name = var.inbound.existing_rule_set_name
  activate_rule_set      = var.inbound.activate_rule_set
  retention_days         = var.inbound.retention_days
  kms_key_arn            = var.inbound.kms_key_arn
  route53_zone_id        = var.inbound.route53_zone_id
  mx_domains             = var.inbound.mx_domains
  object_key_prefix      = local.inbound_prefix
  force_destroy          = !var.deletion_protection

  subscriber_lambda_arns = { feedback = module.feedback.function_arn }
}

################################################################################
# Mailboxes (optional): the scheduled IMAP poller for identities with their own SMTP accounts
################################################################################

module "imap_poller" {
  source = "../../modules/imap_poller"
  count  = var.enable_imap_poller ? 1 : 0

  name                           = "${local.name}-imap-poller"
  package_path                   = var.lambda_package_path
  runtime                        = var.lambda_runtime
  reserved_concurrent_executions = var.reserved_concurrency.imap_poller
  log_retention_days             = var.log_retention_days
  dead_letter_queue_arn          = aws_sqs_queue.failed_invocations.arn
  schedule_expression            = var.imap_poll_schedule

  aws_region              = var.primary_region
  table_name              = module.state.table_name
  table_arn               = module.state.table_arn
  archive_bucket_name     = module.archive.bucket_name
  archive_bucket_arn      = module.archive.bucket_arn
  alert_topic_arn         = module.alerts.topic_arn
  alert_window_seconds    = var.alert_window_seconds
  webhook_queue_url       = local.webhook_queue_url
  webhook_queue_arns      = local.webhook_queue_resources
  secrets_path            = local.mailbox_secrets_path
  unsubscribe_secret      = var.unsubscribe_secret
  unsubscribe_old_secrets = var.unsubscribe_old_secrets
  log_level               = var.log_level
  ses_max_send_rate       = var.ses_max_send_rate
  ses_max_24h_send        = var.ses_max_24h_send
  metrics_namespace       = var.metrics_namespace
}

################################################################################
# Webhooks (optional): the delivery queue (its own DLQ) and the function that delivers
################################################################################

module "webhook_queue" {
  source = "../../modules/queue"
  count  = var.enable_webhooks ? 1 : 0

  name                     = "${local.name}-webhooks"
  consumer_timeout_seconds = 60
  max_receive_count        = 5 # a record whose handling raised five times: the queue's DLQ
}

module "webhooks" {
  source = "../../modules/lambda_function"
  count  = var.enable_webhooks ? 1 : 0

  name                           = "${local.name}-webhooks"
  description                    = "Delivers webhook events to tenants' endpoints, signed, retried with backoff (SQS event source)."
  handler                        = "entrypoints.aws.webhooks.handler"
  package_path                   = var.lambda_package_path
  runtime                        = var.lambda_runtime
  timeout                        = 60
  memory_size                    = 256
  reserved_concurrent_executions = var.reserved_concurrency.webhooks
  log_retention_days             = var.log_retention_days

  sqs_event_source = {
    queue_arn           = module.webhook_queue[0].queue_arn
    batch_size          = 10
    maximum_concurrency = 2
  }

  environment = {
    OUTREACH_BACKEND              = "aws"
    OUTREACH_AWS_REGION           = var.primary_region
    OUTREACH_TABLE_NAME           = module.state.table_name
    OUTREACH_LOG_LEVEL            = var.log_level
    OUTREACH_WEBHOOK_QUEUE_URL    = module.webhook_queue[0].queue_url
    OUTREACH_WEBHOOK_MAX_ATTEMPTS = tostring(var.webhook_max_attempts)
    OUTREACH_WEBHOOK_TIMEOUT_S    = "10"
    OUTREACH_METRICS_NAMESPACE    = var.metrics_namespace
  }

  policy_statements = [
    {
      sid       = "StateTable"
      actions   = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
      resources = local.table_resources
    },
    {
      sid       = "WebhookQueue" # the next attempt of a failed delivery, as a new delayed message
      actions   = ["sqs:SendMessage"]
      resources = [module.webhook_queue[0].queue_arn]
    },
    {
      sid       = "SigningSecrets"
      actions   = ["ssm:GetParameter"]
      resources = local.webhook_secrets_arns
    },
  ]
}

################################################################################
# Planner schedule
################################################################################

module "scheduler" {
  source = "../../modules/scheduler"

  name = local.name

  schedules = {
    "${local.name}-planner" = {
      function_arn        = module.planner.function_arn
      schedule_expression = var.planner_schedule
      description         = "One planner tick: plan due steps, wake parked jobs, expire leases."
    }
  }
}

################################################################################
# Alerts, alarms, dashboard, budget
################################################################################

module "alerts" {
  source = "../../modules/alerts"

  name                           = local.name
  email_addresses                = var.alert_emails
  telegram                       = var.telegram
  package_path                   = var.lambda_package_path
  runtime                        = var.lambda_runtime
  forwarder_reserved_concurrency = var.reserved_concurrency.alert_relay
  log_retention_days             = var.log_retention_days
  dead_letter_queue_arn          = aws_sqs_queue.failed_invocations.arn

  # The failover region's alert topic invokes the same forwarder.
  additional_topic_arns = var.telegram == null ? {} : { failover = module.alerts_failover.topic_arn }
}

module "alerts_failover" {
  source    = "../../modules/alerts"
  providers = { aws = aws.failover }

  name            = local.name
  email_addresses = var.alert_emails
  existing_forwarder = var.telegram == null ? null : {
    function_arn = module.alerts.forwarder_function_arn
  }
}

module "observability" {
  source = "../../modules/observability"
  providers = {
    aws          = aws
    aws.failover = aws.failover
  }

  name                          = local.name
  alarm_topic_arn               = module.alerts.topic_arn
  queue_name                    = module.queue.queue_name
  dlq_name                      = module.queue.dlq_name
  failed_invocations_queue_name = aws_sqs_queue.failed_invocations.name
  metrics_namespace             = var.metrics_namespace
  failover_alarm_topic_arn      = module.alerts_failover.topic_arn

  function_names = compact([
    module.planner.function_name,
    module.sender.function_name,
    module.feedback.function_name,
    module.unsubscribe.function_name,
    module.alerts.forwarder_function_name,
    try(module.imap_poller[0].function_name, null),
    try(module.webhooks[0].function_name, null),
  ])
}

module "budget" {
  source = "../../modules/budget"

  name              = local.name
  monthly_limit_usd = var.monthly_budget_usd
  alert_topic_arn   = module.alerts.topic_arn
  email_addresses   = var.alert_emails
}
