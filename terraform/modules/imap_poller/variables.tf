################################################################################
# The function
################################################################################

variable "name" {
  description = "Name of the function, its schedule group and the prefix of its roles' names."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,52}$", var.name))
    error_message = "name must be 1-52 letters, digits, hyphens or underscores."
  }
}

variable "package_path" {
  description = "Path of the Lambda zip `make package` builds."
  type        = string
}

variable "runtime" {
  description = "Lambda Python runtime of the zip."
  type        = string
  default     = "python3.11"
}

variable "timeout" {
  description = "Seconds one run may take: every mailbox, at most 10 batches each (IMAP servers can be slow)."
  type        = number
  default     = 240
}

variable "memory_size" {
  description = "Memory in MB."
  type        = number
  default     = 256
}

variable "reserved_concurrent_executions" {
  description = "Reserved concurrency: 1 keeps two runs from reading the same mailboxes at once (-1: unreserved)."
  type        = number
  default     = 1
}

variable "log_retention_days" {
  description = "Days the function's logs are kept."
  type        = number
  default     = 30
}

variable "dead_letter_queue_arn" {
  description = "SQS queue for scheduled invocations that failed after their retries (null: none)."
  type        = string
  default     = null
}

variable "permissions_boundary_arn" {
  description = "Permissions boundary for the function's and the schedule's roles, where the account requires one."
  type        = string
  default     = null
}

variable "schedule_expression" {
  description = "How often the mailboxes are read."
  type        = string
  default     = "rate(5 minutes)"
}

variable "batch_size" {
  description = "Messages read per mailbox per batch (OUTREACH_IMAP_BATCH)."
  type        = number
  default     = 50
}

variable "imap_timeout_seconds" {
  description = "Seconds an IMAP server may take to answer (OUTREACH_IMAP_TIMEOUT_S)."
  type        = number
  default     = 30
}

################################################################################
# What it reads and writes
################################################################################

variable "aws_region" {
  description = "Home region of the table, the bucket and the topic (OUTREACH_AWS_REGION)."
  type        = string
}

variable "table_name" {
  description = "The state table's name."
  type        = string
}

variable "table_arn" {
  description = "The state table's ARN (its indexes are granted too)."
  type        = string
}

variable "archive_bucket_name" {
  description = "The archive bucket: each message read is kept there (the inbox shows it from there)."
  type        = string
}

variable "archive_bucket_arn" {
  description = "The archive bucket's ARN."
  type        = string
}

variable "alert_topic_arn" {
  description = "The engine's alert topic (auto-stop after bounces alerts through it)."
  type        = string
}

variable "alert_window_seconds" {
  description = "Repeats of one alert within this window are held back."
  type        = number
  default     = 3600
}

variable "webhook_queue_url" {
  description = "The webhook delivery queue's URL (\"\": webhooks off)."
  type        = string
  default     = ""
}

variable "webhook_queue_arns" {
  description = "The webhook delivery queue's ARN in a list ([]: webhooks off, no grant). A list, not a nullable string: its length is known at plan time while the ARN is not."
  type        = list(string)
  default     = []
}

variable "secrets_path" {
  description = "SSM Parameter Store path of the mailbox secrets (the ssm: references of `outreach identity connect`), e.g. /outreach/prod/mailboxes/."
  type        = string

  validation {
    condition     = can(regex("^/[A-Za-z0-9_./-]+/$", var.secrets_path))
    error_message = "secrets_path must start and end with / (e.g. /outreach/prod/mailboxes/)."
  }
}

variable "unsubscribe_secret" {
  description = "Signs (and here verifies) reply tokens: the same secret as the sender's."
  type        = string
  sensitive   = true
}

variable "unsubscribe_old_secrets" {
  description = "Secrets of before a rotation that still verify reply tokens."
  type        = list(string)
  default     = []
  sensitive   = true
}

variable "log_level" {
  description = "OUTREACH_LOG_LEVEL."
  type        = string
  default     = "WARNING"
}

variable "ses_max_send_rate" {
  description = "The SES account's MaxSendRate (the sending policy's account limit)."
  type        = number
  default     = 14
}

variable "ses_max_24h_send" {
  description = "The SES account's Max24HourSend."
  type        = number
  default     = 50000
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the EMF metrics."
  type        = string
  default     = "Outreach"
}

variable "tags" {
  description = "Tags for every taggable resource (the root's default_tags cover them too)."
  type        = map(string)
  default     = {}
}
