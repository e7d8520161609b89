output "bucket_name" {
  description = "Name of the archive bucket (OUTREACH_ARCHIVE_BUCKET)."
  value       = try(aws_s3_bucket.this.id, null)
}

output "bucket_arn" {
  description = "ARN of the archive bucket."
  value       = try(aws_s3_bucket.this.arn, null)
}

output "expiration_days" {
  description = "Days an archived object lives."
  value       = var.expiration_days
}
