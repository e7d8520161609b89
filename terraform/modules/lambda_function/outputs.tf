output "function_name" {
  description = "Name of the function."
  value       = try(aws_lambda_function.this.function_name, null)
}

output "function_arn" {
  description = "ARN of the function."
  value       = try(aws_lambda_function.this.arn, null)
}

output "region" {
  description = "Region the function runs in."
  value       = local.region
}

output "role_arn" {
  description = "ARN of the execution role."
  value       = try(aws_iam_role.this.arn, null)
}

output "role_name" {
  description = "Name of the execution role."
  value       = try(aws_iam_role.this.name, null)
}

output "log_group_name" {
  description = "CloudWatch log group of the function."
  value       = try(aws_cloudwatch_log_group.this.name, null)
}

output "invoke_arn" {
  description = "ARN API Gateway invokes the function with (a Lambda proxy integration's integration_uri)."
  value       = try(aws_lambda_function.this.invoke_arn, null)
}

output "event_source_mapping_uuid" {
  description = "UUID of the SQS event source mapping (disable it to stop sending at once); null without one."
  value       = try(aws_lambda_event_source_mapping.this[0].uuid, null)
}
