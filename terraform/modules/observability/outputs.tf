output "alarm_names" {
  description = "Names of the alarms, by key (the failover region's SES alarms end in -failover)."
  value       = { for key, alarm in merge(aws_cloudwatch_metric_alarm.this, aws_cloudwatch_metric_alarm.failover) : key => alarm.alarm_name }
}

output "alarm_arns" {
  description = "ARNs of the alarms, by key."
  value       = { for key, alarm in merge(aws_cloudwatch_metric_alarm.this, aws_cloudwatch_metric_alarm.failover) : key => alarm.arn }
}

output "dashboard_name" {
  description = "Name of the dashboard; null when not created."
  value       = try(aws_cloudwatch_dashboard.this[0].dashboard_name, null)
}
