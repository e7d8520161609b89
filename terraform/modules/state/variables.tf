################################################################################
# State table
################################################################################

variable "name" {
  description = "Table name (OUTREACH_TABLE_NAME)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{3,255}$", var.name))
    error_message = "name must be 3-255 letters, digits, underscores, hyphens or dots."
  }
}

variable "deletion_protection" {
  description = "Refuse DeleteTable (and so a `terraform destroy`) until switched off."
  type        = bool
  default     = true
}

variable "point_in_time_recovery" {
  description = "Continuous backups for the last 35 days (about $0.20 per GB-month; the table is a few hundred MB at 10k emails a month)."
  type        = bool
  default     = true
}

################################################################################
# Encryption
################################################################################

variable "encryption" {
  description = "Encryption at rest: aws_owned (default, free), aws_managed (the aws/dynamodb key: no monthly fee, $0.03 per 10k KMS requests) or customer_managed (kms_key_arn: $1/month plus requests)."
  type        = string
  default     = "aws_owned"

  validation {
    condition     = contains(["aws_owned", "aws_managed", "customer_managed"], var.encryption)
    error_message = "encryption must be aws_owned, aws_managed or customer_managed."
  }
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key, used with encryption = \"customer_managed\"."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for the table."
  type        = map(string)
  default     = {}
}
