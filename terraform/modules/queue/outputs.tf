output "queue_arn" {
  description = "ARN of the job queue."
  value       = try(aws_sqs_queue.this.arn, null)
}

output "queue_url" {
  description = "URL of the job queue (OUTREACH_JOB_QUEUE_URL)."
  value       = try(aws_sqs_queue.this.url, null)
}

output "queue_name" {
  description = "Name of the job queue (the CloudWatch QueueName dimension)."
  value       = try(aws_sqs_queue.this.name, null)
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue."
  value       = try(aws_sqs_queue.dlq.arn, null)
}

output "dlq_url" {
  description = "URL of the dead-letter queue (OUTREACH_JOB_DLQ_URL)."
  value       = try(aws_sqs_queue.dlq.url, null)
}

output "dlq_name" {
  description = "Name of the dead-letter queue."
  value       = try(aws_sqs_queue.dlq.name, null)
}

output "visibility_timeout_seconds" {
  description = "Visibility timeout of the job queue (consumer timeout x multiplier)."
  value       = local.visibility_timeout_seconds
}
