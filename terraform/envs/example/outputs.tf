output "dns_records" {
  description = "DNS records to publish for the sending domains (both regions' DKIM and MAIL FROM, and DMARC); those in route53_zone_ids are already in Route 53."
  value       = concat(module.ses_primary.dns_records, module.ses_failover.dns_records)
}

output "unsubscribe_base_url" {
  description = "Base of the List-Unsubscribe links (OUTREACH_UNSUBSCRIBE_BASE_URL): the HTTP API's endpoint or custom domain, then /unsubscribe."
  value       = "${module.unsubscribe_endpoint.url}/unsubscribe"
}

output "unsubscribe_domain_target" {
  description = "With unsubscribe_domain: the regional API Gateway name (and hosted zone) its DNS record must point at; null otherwise."
  value       = module.unsubscribe_endpoint.domain_target
}

output "table_name" {
  description = "DynamoDB table (OUTREACH_TABLE_NAME for the CLI)."
  value       = module.state.table_name
}

output "job_queue_url" {
  description = "Job queue (OUTREACH_JOB_QUEUE_URL for the CLI)."
  value       = module.queue.queue_url
}

output "job_dlq_url" {
  description = "Job dead-letter queue (OUTREACH_JOB_DLQ_URL for the CLI)."
  value       = module.queue.dlq_url
}

output "archive_bucket" {
  description = "Archive bucket (OUTREACH_ARCHIVE_BUCKET)."
  value       = module.archive.bucket_name
}

output "configuration_set_name" {
  description = "SES configuration set, the same name in both regions."
  value       = local.configuration_set
}

output "sender_event_source_mapping_uuid" {
  description = "The sender's SQS event source mapping: disable it to stop all sending at once (docs/deploy.md)."
  value       = module.sender.event_source_mapping_uuid
}

output "function_names" {
  description = "Lambda function names (imap_poller and webhooks only when they are enabled)."
  value = merge(
    {
      planner     = module.planner.function_name
      sender      = module.sender.function_name
      feedback    = module.feedback.function_name
      unsubscribe = module.unsubscribe.function_name
      alert_relay = module.alerts.forwarder_function_name
    },
    var.enable_imap_poller ? { imap_poller = module.imap_poller[0].function_name } : {},
    var.enable_webhooks ? { webhooks = module.webhooks[0].function_name } : {},
  )
}

output "alert_topic_arns" {
  description = "Alert topics by region (OUTREACH_ALERT_TOPIC_ARN is the primary's)."
  value = {
    (var.primary_region)  = module.alerts.topic_arn
    (var.failover_region) = module.alerts_failover.topic_arn
  }
}

output "inbound" {
  description = "With inbound: the bucket and topic of received mail, and the MX value the reply domains need; null otherwise."
  value = var.inbound == null ? null : {
    bucket_name      = module.inbound[0].bucket_name
    topic_arn        = module.inbound[0].topic_arn
    receipt_rule_arn = module.inbound[0].receipt_rule_arn
    mx_record        = module.inbound[0].mx_record
  }
}

output "webhook_queue_url" {
  description = "Webhook delivery queue (OUTREACH_WEBHOOK_QUEUE_URL for the CLI: `outreach webhooks`); null when webhooks are off."
  value       = try(module.webhook_queue[0].queue_url, null)
}

output "mailbox_secrets_path" {
  description = "SSM path for the identities' mailbox secrets: `aws ssm put-parameter --type SecureString --name <path>ann ...`, then `outreach identity connect ... --secret-ref ssm:<path>ann`."
  value       = local.mailbox_secrets_path
}

output "webhook_secrets_path" {
  description = "SSM path for the webhook signing secrets (`outreach webhooks add ... --secret-ref ssm:<path>crm`)."
  value       = local.webhook_secrets_path
}

output "imap_poller_function_name" {
  description = "The IMAP poller function (null unless enable_imap_poller)."
  value       = try(module.imap_poller[0].function_name, null)
}
