################################################################################
# Alarms and a dashboard: few metrics, no per-tenant dimensions
################################################################################
# Alarms cost $0.10 a month each beyond ten free ones and every custom metric series $0.30, so every
# alarm here watches an AWS metric or one of the engine's low-cardinality EMF metrics
# (src/outreach_core/telemetry.py: dimensions Outcome, Kind, EventType, Queue; never a tenant).

# `id` is the region name on AWS provider 5 and 6 (`name` is deprecated on 6, `region` absent on 5).
data "aws_region" "current" {}

data "aws_region" "failover" {
  provider = aws.failover
}

locals {
  region          = data.aws_region.current.id
  failover_region = data.aws_region.failover.id

  # An alarm can only notify a topic in its own region: each sending region has its alert topic.
  ses_regions = {
    primary  = { region = local.region, topic = var.alarm_topic_arn }
    failover = { region = local.failover_region, topic = var.failover_alarm_topic_arn }
  }

  ses_alarms = {
    for role, ses in local.ses_regions : role => {
      "ses-bounce-rate-${role}" = {
        name        = "ses-bounce-rate-${ses.region}"
        topic       = ses.topic
        namespace   = "AWS/SES"
        metric      = "Reputation.BounceRate"
        statistic   = "Maximum"
        threshold   = var.bounce_rate_threshold
        period      = 900
        periods     = 1
        description = "SES bounce rate in ${ses.region} is above ${var.bounce_rate_threshold * 100}% (SES reviews at 5%, pauses at 10%). Runbook: docs/runbooks/alerts.md"
        dimensions  = {}
      }
      "ses-complaint-rate-${role}" = {
        name        = "ses-complaint-rate-${ses.region}"
        topic       = ses.topic
        namespace   = "AWS/SES"
        metric      = "Reputation.ComplaintRate"
        statistic   = "Maximum"
        threshold   = var.complaint_rate_threshold
        period      = 900
        periods     = 1
        description = "SES complaint rate in ${ses.region} is above ${var.complaint_rate_threshold * 100}% (SES reviews at 0.1%, pauses at 0.5%)."
        dimensions  = {}
      }
      "ses-rejects-${role}" = {
        name        = "ses-rejects-${ses.region}"
        topic       = ses.topic
        namespace   = "AWS/SES"
        metric      = "Reject"
        statistic   = "Sum"
        threshold   = 0
        period      = 3600
        periods     = 1
        description = "SES rejected messages in ${ses.region} (virus or content): look at the Reject events in the archive."
        dimensions  = {}
      }
    }
  }

  queue_alarms = {
    "dlq-not-empty" = {
      name        = "dlq-not-empty"
      topic       = var.alarm_topic_arn
      namespace   = "AWS/SQS"
      metric      = "ApproximateNumberOfMessagesVisible"
      statistic   = "Maximum"
      threshold   = 0
      period      = 300
      periods     = 1
      description = "Jobs are in the dead-letter queue ${var.dlq_name}: triage and redrive (outreach dlq list / redrive)."
      dimensions  = { QueueName = var.dlq_name }
    }
    "queue-oldest-message-age" = {
      name        = "queue-oldest-message-age"
      topic       = var.alarm_topic_arn
      namespace   = "AWS/SQS"
      metric      = "ApproximateAgeOfOldestMessage"
      statistic   = "Maximum"
      threshold   = var.oldest_message_age_threshold_seconds
      period      = 300
      periods     = 3
      description = "The oldest job in ${var.queue_name} has waited over ${var.oldest_message_age_threshold_seconds} s: the sender is stopped, throttled or failing."
      dimensions  = { QueueName = var.queue_name }
    }
  }

  async_dlq_alarms = var.failed_invocations_queue_name == null ? {} : {
    "failed-invocations" = {
      name        = "failed-invocations"
      topic       = var.alarm_topic_arn
      namespace   = "AWS/SQS"
      metric      = "ApproximateNumberOfMessagesVisible"
      statistic   = "Maximum"
      threshold   = 0
      period      = 300
      periods     = 1
      description = "An asynchronous invocation (SES event, planner tick, alert) failed after Lambda's retries and sits in ${var.failed_invocations_queue_name}."
      dimensions  = { QueueName = var.failed_invocations_queue_name }
    }
  }

  lambda_alarms = {
    for fn in var.function_names : "lambda-errors-${fn}" => {
      name        = "lambda-errors-${fn}"
      topic       = var.alarm_topic_arn
      namespace   = "AWS/Lambda"
      metric      = "Errors"
      statistic   = "Sum"
      threshold   = var.lambda_error_threshold
      period      = 300
      periods     = 1
      description = "Lambda function ${fn} raised errors (more than ${var.lambda_error_threshold} in 5 minutes)."
      dimensions  = { FunctionName = fn }
    }
  }

  engine_alarms = {
    "ses-throttled" = {
      name        = "ses-throttled"
      topic       = var.alarm_topic_arn
      namespace   = var.metrics_namespace
      metric      = "ProviderError"
      statistic   = "Sum"
      threshold   = var.throttle_threshold
      period      = 900
      periods     = 1
      description = "SES throttled more than ${var.throttle_threshold} sends in 15 minutes: the account's send rate is below what the limiters allow."
      dimensions  = { Kind = "throttled" }
    }
    "ses-sending-paused" = {
      name        = "ses-sending-paused"
      topic       = var.alarm_topic_arn
      namespace   = var.metrics_namespace
      metric      = "ProviderError"
      statistic   = "Sum"
      threshold   = 0
      period      = 300
      periods     = 1
      description = "SES answered that sending is paused or the account is suspended: the sender stops; read the SES console and the runbook."
      dimensions  = { Kind = "sending_paused" }
    }
  }

  # Everything but the failover region's SES alarms lives in the home region.
  alarms = merge(local.ses_alarms.primary, local.queue_alarms, local.async_dlq_alarms, local.lambda_alarms, local.engine_alarms)
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.alarms

  alarm_name          = "${var.name}-${each.value.name}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  statistic           = each.value.statistic
  dimensions          = each.value.dimensions
  period              = each.value.period
  evaluation_periods  = each.value.periods
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [each.value.topic]
  ok_actions          = [each.value.topic]
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "failover" {
  for_each = local.ses_alarms.failover
  provider = aws.failover

  alarm_name          = "${var.name}-${each.value.name}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  statistic           = each.value.statistic
  dimensions          = each.value.dimensions
  period              = each.value.period
  evaluation_periods  = each.value.periods
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [each.value.topic]
  ok_actions          = [each.value.topic]
  tags                = var.tags
}

################################################################################
# Dashboard
################################################################################

resource "aws_cloudwatch_dashboard" "this" {
  count = var.create_dashboard ? 1 : 0

  dashboard_name = var.name
  dashboard_body = jsonencode({
    widgets = concat(
      [
        for i, ses_region in [local.region, local.failover_region] : {
          type   = "metric"
          x      = (i % 2) * 12
          y      = 0
          width  = 12
          height = 6
          properties = {
            title   = "SES ${ses_region}: sends and outcomes"
            region  = ses_region
            stat    = "Sum"
            period  = 3600
            metrics = [for m in ["Send", "Delivery", "Bounce", "Complaint", "Reject"] : ["AWS/SES", m]]
          }
        }
      ],
      [
        {
          type   = "metric"
          x      = 0
          y      = 6
          width  = 12
          height = 6
          properties = {
            title  = "SES reputation (all regions)"
            region = local.region
            stat   = "Maximum"
            period = 3600
            metrics = flatten([
              for ses_region in [local.region, local.failover_region] : [
                ["AWS/SES", "Reputation.BounceRate", { region = ses_region, label = "bounce ${ses_region}" }],
                ["AWS/SES", "Reputation.ComplaintRate", { region = ses_region, label = "complaint ${ses_region}" }],
              ]
            ])
          }
        },
        {
          type   = "metric"
          x      = 12
          y      = 6
          width  = 12
          height = 6
          properties = {
            title  = "Job queue"
            region = local.region
            stat   = "Maximum"
            period = 300
            metrics = [
              ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", var.queue_name],
              ["AWS/SQS", "ApproximateNumberOfMessagesDelayed", "QueueName", var.queue_name],
              ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", var.queue_name, { yAxis = "right" }],
              ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", var.dlq_name, { label = "dead letters" }],
            ]
          }
        },
        {
          type   = "metric"
          x      = 0
          y      = 12
          width  = 12
          height = 6
          properties = {
            title   = "Lambda errors and throttles"
            region  = local.region
            stat    = "Sum"
            period  = 300
            metrics = flatten([for fn in var.function_names : [["AWS/Lambda", "Errors", "FunctionName", fn], ["AWS/Lambda", "Throttles", "FunctionName", fn]]])
          }
        },
        {
          type   = "metric"
          x      = 12
          y      = 12
          width  = 12
          height = 6
          properties = {
            title  = "Engine: send outcomes and provider errors (EMF)"
            region = local.region
            stat   = "Sum"
            period = 3600
            metrics = concat(
              [for o in ["sent", "deferred", "retrying", "failed", "bounced", "dead_lettered", "uncertain"] : [var.metrics_namespace, "SendOutcome", "Outcome", o]],
              [for k in ["throttled", "rejected", "sending_paused", "transient", "outcome_unknown"] : [var.metrics_namespace, "ProviderError", "Kind", k]],
            )
          }
        },
      ],
    )
  })
}
