output "schedule_group_name" {
  description = "Name of the schedule group."
  value       = try(aws_scheduler_schedule_group.this.name, null)
}

output "schedule_arns" {
  description = "ARNs of the schedules, by name."
  value       = { for name, schedule in aws_scheduler_schedule.this : name => schedule.arn }
}

output "role_arn" {
  description = "ARN of the role the schedules invoke their targets with."
  value       = try(aws_iam_role.this.arn, null)
}
