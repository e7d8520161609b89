################################################################################
# Alert topic
################################################################################

variable "name" {
  description = "Name prefix: the topic is \"<name>-alerts\", the forwarder \"<name>-alert-relay\"."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,40}$", var.name))
    error_message = "name must be 1-40 letters, digits, hyphens or underscores."
  }
}

variable "email_addresses" {
  description = "Addresses subscribed to the topic (each must confirm the subscription e-mail)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.email_addresses : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", a))])
    error_message = "email_addresses must be e-mail addresses."
  }
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the topic ($1/month; its key policy must admit cloudwatch.amazonaws.com and budgets.amazonaws.com). null: an unencrypted topic."
  type        = string
  default     = null
}

################################################################################
# Telegram forwarder
################################################################################

variable "telegram" {
  description = "Create the Telegram forwarder: the chat id, the SSM SecureString parameter holding the bot token (created by hand, never in Terraform state), and the handler. null: no forwarder in this region."
  type = object({
    chat_id              = string
    token_parameter_name = string
    handler              = optional(string, "entrypoints.alert_relay.handler")
  })
  default = null
}

variable "existing_forwarder" {
  description = "Subscribe a forwarder created by another instance (the primary region's) instead of creating one: its function ARN. That instance grants the invoke permission (its additional_topic_arns)."
  type = object({
    function_arn = string
  })
  default = null
}

variable "additional_topic_arns" {
  description = "With telegram: alert topics of other instances (label => topic ARN, labels known at plan time) that may invoke the forwarder created here; they subscribe it with existing_forwarder."
  type        = map(string)
  default     = {}
}

variable "package_path" {
  description = "Deployment zip for the forwarder (the one `make package` builds). Only used with telegram."
  type        = string
  default     = null
}

variable "runtime" {
  description = "Lambda runtime of the forwarder."
  type        = string
  default     = "python3.11"
}

variable "forwarder_reserved_concurrency" {
  description = "Reserved concurrency of the forwarder (-1: unreserved)."
  type        = number
  default     = -1
}

variable "log_retention_days" {
  description = "Days the forwarder's logs are kept."
  type        = number
  default     = 30
}

variable "dead_letter_queue_arn" {
  description = "SQS queue for forwarder invocations that failed after Lambda's retries. null: none."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every taggable resource of the module."
  type        = map(string)
  default     = {}
}
