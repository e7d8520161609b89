variable "name" {
  description = "Name prefix for every resource of this module (e.g. \"outreach-prod\")."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,40}$", var.name))
    error_message = "name must be 2-41 lower-case letters, digits or hyphens."
  }
}

variable "recipients" {
  description = "Domains and/or addresses whose inbound mail this rule stores (e.g. [\"reply.acme.example\"]). Use a dedicated reply subdomain: every message to it is read as a possible reply."
  type        = list(string)

  validation {
    condition     = length(var.recipients) > 0
    error_message = "Name at least one recipient domain or address."
  }
}

variable "existing_rule_set_name" {
  description = "Add the rule to this receipt rule set instead of creating one (an account has one active rule set per region). null creates \"<name>-inbound\"."
  type        = string
  default     = null
}

variable "activate_rule_set" {
  description = "Make the created rule set the active one in this region. Leave false when another active set exists; add the rule to it with existing_rule_set_name instead."
  type        = bool
  default     = true
}

variable "bucket_name" {
  description = "Name of the bucket that stores received messages. null: \"<name>-inbound-<account id>\"."
  type        = string
  default     = null
}

variable "object_key_prefix" {
  description = "Key prefix under which SES stores each message (the object key is the prefix plus SES's message id)."
  type        = string
  default     = "inbound/"
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete the bucket while it still holds received messages."
  type        = bool
  default     = false
}

variable "retention_days" {
  description = "Days a received message is kept. Replies hold personal data: keep this short (the engine reads a message within minutes)."
  type        = number
  default     = 30

  validation {
    condition     = var.retention_days >= 1 && var.retention_days <= 365
    error_message = "retention_days must be between 1 and 365."
  }
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the bucket and the topic. Its key policy must let ses.amazonaws.com (and the readers) use it. null: SSE-S3 for the bucket and an unencrypted topic (the AWS-managed SNS key cannot be used by SES)."
  type        = string
  default     = null
}

variable "scan_enabled" {
  description = "Let SES scan received messages for spam and viruses (verdicts are in the notification)."
  type        = bool
  default     = true
}

variable "tls_policy" {
  description = "\"Require\": refuse mail not delivered over TLS; \"Optional\": accept both."
  type        = string
  default     = "Require"

  validation {
    condition     = contains(["Require", "Optional"], var.tls_policy)
    error_message = "tls_policy must be \"Require\" or \"Optional\"."
  }
}

variable "topic_signature_version" {
  description = "SNS signature version for the notification topic: 2 (SHA256, recommended) or 1 (SHA1)."
  type        = number
  default     = 2

  validation {
    condition     = contains([1, 2], var.topic_signature_version)
    error_message = "topic_signature_version must be 1 or 2."
  }
}

variable "subscriber_lambda_arns" {
  description = "Lambda functions that read the notifications (the feedback function), by a label known at plan time: each is subscribed and allowed to be invoked by the topic. {}: no Lambda subscription."
  type        = map(string)
  default     = {}
}

variable "subscriber_https_endpoint" {
  description = "HTTPS URL of a self-hosted worker's POST /sns (it confirms the subscription itself). null: no HTTPS subscription."
  type        = string
  default     = null

  validation {
    condition     = var.subscriber_https_endpoint == null || can(regex("^https://", var.subscriber_https_endpoint))
    error_message = "subscriber_https_endpoint must be an https:// URL."
  }
}

variable "route53_zone_id" {
  description = "Route 53 hosted zone to publish the MX record(s) for the recipient domains in. null: publish the MX yourself (see the mx_record output)."
  type        = string
  default     = null
}

variable "mx_domains" {
  description = "Domains (of recipients) that get an MX record pointing at SES inbound in this region. Only used with route53_zone_id."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags applied to every taggable resource (merged over Module = \"ses_inbound\")."
  type        = map(string)
  default     = {}
}
