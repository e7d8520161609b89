################################################################################
# Budget
################################################################################

variable "name" {
  description = "Budget name (unique in the account)."
  type        = string
}

variable "monthly_limit_usd" {
  description = "Monthly cost limit in US dollars. At 10k emails a month the stack costs a few dollars (docs/cost.md)."
  type        = number
  default     = 20

  validation {
    condition     = var.monthly_limit_usd > 0
    error_message = "monthly_limit_usd must be positive."
  }
}

variable "cost_filters" {
  description = "Cost filters (e.g. {TagKeyValue = [\"user:Project$outreach\"]} once the Project tag is an activated cost allocation tag). Empty: the whole account."
  type        = map(list(string))
  default     = {}
}

variable "notifications" {
  description = "When to notify: ACTUAL or FORECASTED spend above a percentage of the limit."
  type = list(object({
    type              = string
    threshold_percent = number
  }))
  default = [
    { type = "ACTUAL", threshold_percent = 80 },
    { type = "FORECASTED", threshold_percent = 100 },
  ]

  validation {
    condition     = length(var.notifications) > 0 && alltrue([for n in var.notifications : contains(["ACTUAL", "FORECASTED"], n.type) && n.threshold_percent > 0])
    error_message = "Each notification needs type ACTUAL or FORECASTED and a positive threshold_percent."
  }
}

variable "alert_topic_arn" {
  description = "SNS topic notified (its policy must let budgets.amazonaws.com publish: the alerts module's does). null: e-mail only."
  type        = string
  default     = null
}

variable "email_addresses" {
  description = "Addresses notified directly by AWS Budgets (besides the topic)."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags for the budget."
  type        = map(string)
  default     = {}
}
