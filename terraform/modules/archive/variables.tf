################################################################################
# Archive bucket
################################################################################

variable "name" {
  description = "Name prefix; the bucket is \"<name>-archive-<account id>-<region>\" unless bucket_name is set."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,30}$", var.name))
    error_message = "name must be 2-31 lower-case letters, digits or hyphens (bucket names are global and short)."
  }
}

variable "bucket_name" {
  description = "Exact bucket name (OUTREACH_ARCHIVE_BUCKET). null: derived from name, account and region."
  type        = string
  default     = null
}

variable "expiration_days" {
  description = "Days an archived object lives. The design keeps raw payloads 90 days."
  type        = number
  default     = 90

  validation {
    condition     = var.expiration_days >= 1
    error_message = "expiration_days must be at least 1."
  }
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete a bucket that still holds objects."
  type        = bool
  default     = false
}

################################################################################
# Encryption
################################################################################

variable "kms_key_arn" {
  description = "Customer-managed KMS key for SSE-KMS with an S3 Bucket Key ($1/month plus few requests); pass the same key as OUTREACH_ARCHIVE_KMS_KEY_ID. null: SSE-S3 (AES256), no charge."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for the bucket."
  type        = map(string)
  default     = {}
}
