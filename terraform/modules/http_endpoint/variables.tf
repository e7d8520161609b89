################################################################################
# API
################################################################################

variable "name" {
  description = "Name of the HTTP API (and of its access log group, /aws/apigateway/<name>)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,128}$", var.name))
    error_message = "name must be 1-128 letters, digits, hyphens or underscores."
  }
}

variable "description" {
  description = "Description of the API."
  type        = string
  default     = ""
}

variable "routes" {
  description = "Route keys (\"<METHOD> <path>\", path parameters in braces) served by the function, e.g. [\"POST /unsubscribe/{token}\", \"GET /unsubscribe/{token}\"]."
  type        = list(string)

  validation {
    condition     = length(var.routes) > 0 && alltrue([for r in var.routes : can(regex("^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS|ANY) /[^ ]*$", r))])
    error_message = "routes must be route keys such as \"POST /unsubscribe/{token}\"."
  }
}

################################################################################
# Function
################################################################################

variable "function_name" {
  description = "Name (or ARN) of the Lambda function behind every route; it gets an invoke permission per route for this API only."
  type        = string
}

variable "function_invoke_arn" {
  description = "Invoke ARN of that function (lambda_function's invoke_arn output): the proxy integration's URI."
  type        = string
}

variable "integration_timeout_milliseconds" {
  description = "How long API Gateway waits for the function (50-30000 ms); keep it above the function's timeout."
  type        = number
  default     = 15000

  validation {
    condition     = var.integration_timeout_milliseconds >= 50 && var.integration_timeout_milliseconds <= 30000
    error_message = "integration_timeout_milliseconds must be between 50 and 30000."
  }
}

################################################################################
# Stage
################################################################################

variable "throttling_rate_limit" {
  description = "Steady requests per second the $default stage lets through to the function (beyond: 429)."
  type        = number
  default     = 20
}

variable "throttling_burst_limit" {
  description = "Burst of requests the $default stage admits above the rate."
  type        = number
  default     = 40
}

variable "log_retention_days" {
  description = "Days the access logs are kept."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ...)."
  }
}

variable "log_kms_key_arn" {
  description = "Customer-managed KMS key for the access log group ($1/month; its key policy must admit CloudWatch Logs). null: CloudWatch's own encryption, no charge."
  type        = string
  default     = null
}

################################################################################
# Custom domain
################################################################################

variable "custom_domain" {
  description = "Serve the API on your own name (e.g. unsubscribe.mail.acme.example): an ACM certificate for it in this region, optionally the Route 53 zone for its alias record, and whether to turn off the execute-api endpoint. null: the execute-api endpoint only."
  type = object({
    domain_name              = string
    certificate_arn          = string
    route53_zone_id          = optional(string)
    disable_default_endpoint = optional(bool, false)
  })
  default = null
}

variable "tags" {
  description = "Tags for every taggable resource of the module."
  type        = map(string)
  default     = {}
}
