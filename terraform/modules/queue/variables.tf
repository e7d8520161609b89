################################################################################
# Job queue
################################################################################

variable "name" {
  description = "Queue name; the dead-letter queue is \"<name>-dlq\"."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,76}$", var.name))
    error_message = "name must be 1-76 letters, digits, hyphens or underscores (80 with the -dlq suffix)."
  }
}

variable "consumer_timeout_seconds" {
  description = "Timeout of the Lambda function the queue feeds (the sender); the visibility timeout is this times visibility_timeout_multiplier."
  type        = number

  validation {
    condition     = var.consumer_timeout_seconds >= 1 && var.consumer_timeout_seconds <= 900
    error_message = "consumer_timeout_seconds must be a Lambda timeout (1-900 seconds)."
  }
}

variable "visibility_timeout_multiplier" {
  description = "Visibility timeout as a multiple of the consumer's timeout; AWS asks for at least 6 with a Lambda event source."
  type        = number
  default     = 6

  validation {
    condition     = var.visibility_timeout_multiplier >= 6
    error_message = "visibility_timeout_multiplier must be at least 6 (Lambda's guidance for SQS event sources)."
  }
}

variable "max_receive_count" {
  description = "Receives before SQS moves a message to the dead-letter queue. Small: the sender retries with its own backoff and re-enqueues deferred jobs as new messages."
  type        = number
  default     = 3

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 10
    error_message = "max_receive_count must be between 1 and 10: a poison message should reach the DLQ quickly."
  }
}

variable "message_retention_seconds" {
  description = "How long the job queue keeps a message (seconds; SQS allows 60 to 1,209,600)."
  type        = number
  default     = 345600
}

variable "receive_wait_time_seconds" {
  description = "Long-poll wait for ReceiveMessage calls made by the CLI (the Lambda event source long-polls by itself)."
  type        = number
  default     = 0
}

################################################################################
# Dead-letter queue
################################################################################

variable "dlq_message_retention_seconds" {
  description = "How long the dead-letter queue keeps a message: the SQS maximum (14 days), time for a person to triage and redrive."
  type        = number
  default     = 1209600
}

################################################################################
# Encryption
################################################################################

variable "kms_key_arn" {
  description = "Customer-managed KMS key for both queues ($1/month plus requests; producers and consumers need kms:GenerateDataKey/Decrypt). null: SQS-managed SSE (SSE-SQS), no charge."
  type        = string
  default     = null
}

variable "kms_data_key_reuse_period_seconds" {
  description = "With a customer key: seconds SQS reuses a data key before calling KMS again (longer = fewer KMS requests)."
  type        = number
  default     = 3600
}

variable "tags" {
  description = "Tags for both queues."
  type        = map(string)
  default     = {}
}
