################################################################################
# Schedules
################################################################################

variable "name" {
  description = "Name of the schedule group (and the prefix of the role name)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{1,64}$", var.name))
    error_message = "name must be 1-64 letters, digits, dots, hyphens or underscores."
  }
}

variable "schedules" {
  description = "Schedules by name: the Lambda function each invokes, when, and with what input. The planner's tick is idempotent, so retries are few and short."
  type = map(object({
    function_arn                 = string
    schedule_expression          = string
    description                  = optional(string, "")
    timezone                     = optional(string, "UTC")
    input                        = optional(string, "{}")
    enabled                      = optional(bool, true)
    maximum_retry_attempts       = optional(number, 2)
    maximum_event_age_in_seconds = optional(number, 300)
  }))

  validation {
    condition     = alltrue([for s in values(var.schedules) : can(regex("^(rate|cron|at)\\(.+\\)$", s.schedule_expression))])
    error_message = "Each schedule_expression must be rate(...), cron(...) or at(...)."
  }
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the schedules' input ($1/month). null: an AWS-owned key, no charge."
  type        = string
  default     = null
}

################################################################################
# IAM
################################################################################

variable "role_name" {
  description = "Name of the role the schedules assume. null: \"<name>-scheduler-<region>\"."
  type        = string
  default     = null
}

variable "permissions_boundary_arn" {
  description = "Permissions boundary for the role, where the account requires one."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for the schedule group and the role (schedules themselves take no tags)."
  type        = map(string)
  default     = {}
}
