output "topic_arn" {
  description = "ARN of the alert topic (alarm actions, budget notifications, OUTREACH_ALERT_TOPIC_ARN)."
  value       = try(aws_sns_topic.this.arn, null)
}

output "forwarder_function_arn" {
  description = "ARN of the Telegram forwarder subscribed to the topic; null without one."
  value       = local.forwarder_arn
}

output "forwarder_function_name" {
  description = "Name of the Telegram forwarder created here; null when none was created."
  value       = try(module.telegram_forwarder[0].function_name, null)
}

output "forwarder_role_name" {
  description = "Execution role of the Telegram forwarder created here; null when none was created."
  value       = try(module.telegram_forwarder[0].role_name, null)
}
