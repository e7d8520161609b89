output "bucket_name" {
  description = "Bucket holding received messages (the engine's reader needs s3:GetObject on it)."
  value       = try(aws_s3_bucket.inbound.id, null)
}

output "bucket_arn" {
  description = "ARN of the bucket holding received messages."
  value       = try(aws_s3_bucket.inbound.arn, null)
}

output "object_key_prefix" {
  description = "Key prefix of stored messages (for IAM: <bucket_arn>/<prefix>*)."
  value       = var.object_key_prefix
}

output "topic_arn" {
  description = "SNS topic announcing each received message; allow it in OUTREACH_SNS_TOPIC_ARNS for a self-hosted worker."
  value       = try(aws_sns_topic.inbound.arn, null)
}

output "rule_set_name" {
  description = "Receipt rule set holding the rule."
  value       = local.rule_set_name
}

output "receipt_rule_name" {
  description = "Name of the receipt rule."
  value       = try(aws_ses_receipt_rule.replies.name, null)
}

output "receipt_rule_arn" {
  description = "Full ARN of the receipt rule (the SourceArn SES presents to S3, SNS and KMS)."
  value       = local.rule_arn
}

output "mx_record" {
  description = "The MX value the recipient domains need (published here only with route53_zone_id)."
  value       = "10 inbound-smtp.${local.region}.amazonaws.com"
}
