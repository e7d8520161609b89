output "table_name" {
  description = "Name of the table (OUTREACH_TABLE_NAME)."
  value       = try(aws_dynamodb_table.this.name, null)
}

output "table_arn" {
  description = "ARN of the table."
  value       = try(aws_dynamodb_table.this.arn, null)
}

output "index_arns" {
  description = "ARNs of the table's indexes (<table arn>/index/*), for IAM Query grants."
  value       = try(["${aws_dynamodb_table.this.arn}/index/*"], [])
}
