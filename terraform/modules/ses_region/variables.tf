################################################################################
# Region and naming
################################################################################

variable "name" {
  description = "Name prefix for the region's resources (the event topic is \"<name>-ses-events\")."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,200}$", var.name))
    error_message = "name must be letters, digits, hyphens or underscores."
  }
}

################################################################################
# Identities
################################################################################

variable "domains" {
  description = "Sending domains verified with Easy DKIM in this region (every tenant's From domain)."
  type        = list(string)

  validation {
    condition     = length(var.domains) > 0 && alltrue([for d in var.domains : can(regex("^([a-z0-9-]+\\.)+[a-z]{2,}$", d))])
    error_message = "domains must name at least one lower-case domain such as mail.example.com."
  }
}

variable "dkim_key_length" {
  description = "Easy DKIM key length for the next key SES generates."
  type        = string
  default     = "RSA_2048_BIT"

  validation {
    condition     = contains(["RSA_1024_BIT", "RSA_2048_BIT"], var.dkim_key_length)
    error_message = "dkim_key_length must be RSA_1024_BIT or RSA_2048_BIT."
  }
}

variable "mail_from_subdomain" {
  description = "Label of the custom MAIL FROM domain (<label>.<domain>). null: \"bounce-<region>\", distinct per region because its MX names this region's feedback endpoint."
  type        = string
  default     = null
}

################################################################################
# Configuration set and events
################################################################################

variable "configuration_set_name" {
  description = "Configuration set name (OUTREACH_SES_CONFIGURATION_SET); the same name in every region, since the sender uses one name for both."
  type        = string
}

variable "tls_policy" {
  description = "REQUIRE: SES delivers only over TLS; OPTIONAL: falls back to plain SMTP."
  type        = string
  default     = "REQUIRE"

  validation {
    condition     = contains(["REQUIRE", "OPTIONAL"], var.tls_policy)
    error_message = "tls_policy must be REQUIRE or OPTIONAL."
  }
}

variable "sending_enabled" {
  description = "Whether SES may send with this configuration set (false pauses the region)."
  type        = bool
  default     = true
}

variable "event_types" {
  description = "SES events published to the topic. OPEN and CLICK are left out on purpose: listing them makes SES add a tracking pixel and rewrite links, which hurts cold-email deliverability."
  type        = list(string)
  default     = ["SEND", "REJECT", "BOUNCE", "COMPLAINT", "DELIVERY", "DELIVERY_DELAY", "RENDERING_FAILURE", "SUBSCRIPTION"]

  validation {
    condition = length(var.event_types) > 0 && alltrue([
      for t in var.event_types : contains(["SEND", "REJECT", "BOUNCE", "COMPLAINT", "DELIVERY", "OPEN", "CLICK", "RENDERING_FAILURE", "DELIVERY_DELAY", "SUBSCRIPTION"], t)
    ])
    error_message = "event_types must be SES event types (SEND, REJECT, BOUNCE, COMPLAINT, DELIVERY, OPEN, CLICK, RENDERING_FAILURE, DELIVERY_DELAY, SUBSCRIPTION)."
  }
}

variable "topic_kms_key_arn" {
  description = "Customer-managed KMS key for the event topic ($1/month; its key policy must let ses.amazonaws.com use it). null: an unencrypted topic (the AWS-managed SNS key cannot be used by SES)."
  type        = string
  default     = null
}

################################################################################
# DNS
################################################################################

variable "publish_dmarc" {
  description = "Include the DMARC record in dns_records (and Route 53). Set it in one region only: DMARC is per domain, not per region."
  type        = bool
  default     = true
}

variable "dmarc_record" {
  description = "Value of the _dmarc TXT record."
  type        = string
  default     = "v=DMARC1; p=none;"

  validation {
    condition     = startswith(var.dmarc_record, "v=DMARC1;")
    error_message = "dmarc_record must start with \"v=DMARC1;\"."
  }
}

variable "route53_zone_ids" {
  description = "Hosted zone per domain to publish the records in (domain => zone id). Domains left out get their records from the dns_records output."
  type        = map(string)
  default     = {}
}

variable "tags" {
  description = "Tags for every taggable resource of the module."
  type        = map(string)
  default     = {}
}
