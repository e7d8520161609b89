output "region" {
  description = "Sending region of this instance."
  value       = local.region
}

output "configuration_set_name" {
  description = "Configuration set name (OUTREACH_SES_CONFIGURATION_SET)."
  value       = try(aws_sesv2_configuration_set.this.configuration_set_name, null)
}

output "configuration_set_arn" {
  description = "ARN of the configuration set (SendEmail authorises against it)."
  value       = try(aws_sesv2_configuration_set.this.arn, null)
}

output "identity_arns" {
  description = "ARNs of the domain identities, by domain (SendEmail authorises against them)."
  value       = { for d, identity in aws_sesv2_email_identity.this : d => identity.arn }
}

output "event_topic_arn" {
  description = "SNS topic receiving this region's SES events (the feedback function subscribes to it)."
  value       = try(aws_sns_topic.events.arn, null)
}

output "mail_from_domains" {
  description = "Custom MAIL FROM domain per sending domain."
  value       = local.mail_from_domains
}

output "dns_records" {
  description = "Records to publish for this region: DKIM CNAMEs, MAIL FROM MX and SPF, and DMARC where publish_dmarc is set."
  value       = local.dns_records
}
