output "function_name" {
  description = "Name of the IMAP poller function."
  value       = try(module.this.function_name, null)
}

output "function_arn" {
  description = "ARN of the IMAP poller function."
  value       = try(module.this.function_arn, null)
}

output "role_name" {
  description = "Name of the function's execution role."
  value       = try(module.this.role_name, null)
}

output "secrets_arn" {
  description = "The SSM parameters the function may read (the path's parameters)."
  value       = local.secrets_arn
}

output "schedule_group_name" {
  description = "EventBridge Scheduler group of its schedule."
  value       = try(module.schedule.schedule_group_name, null)
}
