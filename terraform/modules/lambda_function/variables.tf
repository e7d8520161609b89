################################################################################
# Function
################################################################################

variable "name" {
  description = "Function name (also the log group /aws/lambda/<name>)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.name))
    error_message = "name must be 1-64 letters, digits, hyphens or underscores."
  }
}

variable "description" {
  description = "Description shown in the Lambda console."
  type        = string
  default     = ""
}

variable "handler" {
  description = "Handler as module.function relative to the package root, e.g. entrypoints.aws.sender.handler (src/entrypoints/aws/manifest.py)."
  type        = string
}

variable "package_path" {
  description = "Path of the deployment zip that `make package` builds (dist/ at the repository root)."
  type        = string
}

variable "runtime" {
  description = "Lambda runtime; it must match the Python the package was built for."
  type        = string
  default     = "python3.11"
}

variable "architecture" {
  description = "Instruction set: x86_64 or arm64 (about 20% cheaper per GB-second; the package must carry arm64 wheels)."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "memory_size" {
  description = "Memory in MB (CPU scales with it)."
  type        = number
  default     = 256
}

variable "timeout" {
  description = "Timeout in seconds. An SQS event source's visibility timeout must be at least 6x this (the queue module takes it)."
  type        = number
  default     = 30

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 900
    error_message = "timeout must be between 1 and 900 seconds."
  }
}

variable "reserved_concurrent_executions" {
  description = "Reserved concurrency: caps the function (the planner runs one at a time). -1: unreserved. Reserving needs an account concurrency quota above 10 (docs/deploy.md)."
  type        = number
  default     = -1
}

variable "environment" {
  description = "Environment variables (OUTREACH_<SETTING> for each setting the function reads)."
  type        = map(string)
  default     = {}
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the environment variables ($1/month). null: Lambda's AWS-managed key, no charge."
  type        = string
  default     = null
}

variable "tracing_mode" {
  description = "X-Ray tracing: PassThrough (no traces of its own, free) or Active (needs X-Ray permissions; free up to 100k traces a month)."
  type        = string
  default     = "PassThrough"

  validation {
    condition     = contains(["PassThrough", "Active"], var.tracing_mode)
    error_message = "tracing_mode must be PassThrough or Active."
  }
}

################################################################################
# IAM
################################################################################

variable "role_name" {
  description = "Name of the execution role. null: \"<name>-<region>\" (IAM is global, so the region keeps copies apart)."
  type        = string
  default     = null
}

variable "permissions_boundary_arn" {
  description = "Permissions boundary for the execution role, where the account requires one."
  type        = string
  default     = null
}

variable "policy_statements" {
  description = "What the code calls: one statement per resource group, actions exactly the union of IAM_ACTIONS of the adapter modules the function uses (checked by tests/terraform). A statement with no resources is left out (it grants on an optional resource that is not created)."
  type = list(object({
    sid       = string
    actions   = list(string)
    resources = list(string)
  }))
  default = []
}

variable "kms_key_arns" {
  description = "Customer-managed keys of the data the function reads and writes (queue, table, bucket), if any: kms:Decrypt and kms:GenerateDataKey on them."
  type        = list(string)
  default     = []
}

################################################################################
# Logs
################################################################################

variable "log_retention_days" {
  description = "Days CloudWatch Logs keeps the function's logs."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ...)."
  }
}

variable "log_kms_key_arn" {
  description = "Customer-managed KMS key for the log group ($1/month; its key policy must admit CloudWatch Logs). null: CloudWatch's own encryption, no charge."
  type        = string
  default     = null
}

################################################################################
# Triggers
################################################################################

variable "sqs_event_source" {
  description = "SQS queue that invokes the function (batches, ReportBatchItemFailures, maximum concurrency). null: no event source mapping."
  type = object({
    queue_arn                          = string
    batch_size                         = optional(number, 10)
    maximum_batching_window_in_seconds = optional(number, 0)
    maximum_concurrency                = optional(number, 2)
  })
  default = null

  validation {
    condition     = var.sqs_event_source == null ? true : (var.sqs_event_source.maximum_concurrency >= 2 && var.sqs_event_source.maximum_concurrency <= 1000)
    error_message = "sqs_event_source.maximum_concurrency must be between 2 and 1000 (the SQS event source's limits)."
  }
}

variable "dead_letter_queue_arn" {
  description = "SQS queue that keeps asynchronous invocations (SNS, Scheduler) that failed after Lambda's two retries. null: none."
  type        = string
  default     = null
}

variable "allowed_triggers" {
  description = "Resource-policy grants to invoke the function, keyed by statement id: the service principal and the source ARN."
  type = map(object({
    principal  = string
    source_arn = string
  }))
  default = {}
}

variable "tags" {
  description = "Tags for every taggable resource of the module."
  type        = map(string)
  default     = {}
}
