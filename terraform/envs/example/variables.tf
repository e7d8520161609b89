################################################################################
# Account, naming and regions
################################################################################

variable "project" {
  description = "Project name: the first part of every resource name and the Project tag."
  type        = string
  default     = "outreach"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.project))
    error_message = "project must be 2-16 lower-case letters, digits or hyphens, starting with a letter."
  }
}

variable "environment" {
  description = "Environment name (prod, staging, ...): the second part of every resource name and the Environment tag."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,9}$", var.environment))
    error_message = "environment must be 2-10 lower-case letters or digits, starting with a letter."
  }
}

variable "allowed_account_ids" {
  description = "AWS account ids this root may touch: a plan against any other account fails before it changes anything."
  type        = list(string)

  validation {
    condition     = length(var.allowed_account_ids) > 0 && alltrue([for id in var.allowed_account_ids : can(regex("^[0-9]{12}$", id))])
    error_message = "allowed_account_ids must list 12-digit account ids."
  }
}

variable "primary_region" {
  description = "Home region: SES primary, the table, the queues, the bucket, the functions and the schedule."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.primary_region))
    error_message = "primary_region must be an AWS region name such as eu-west-1."
  }
}

variable "failover_region" {
  description = "SES failover region: identities and a configuration set of their own there; the sender switches when the primary fails."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.failover_region))
    error_message = "failover_region must be an AWS region name such as eu-central-1."
  }
}

variable "deletion_protection" {
  description = "Protect stored data from `terraform destroy`: DynamoDB deletion protection on the table, and buckets (archive, inbound) that refuse to be deleted while they hold objects. false lets destroy remove everything (test stacks)."
  type        = bool
  default     = true
}

variable "extra_tags" {
  description = "Tags added to Project, Environment and ManagedBy on every taggable resource."
  type        = map(string)
  default     = {}
}

################################################################################
# SES
################################################################################

variable "sending_domains" {
  description = "Every tenant's From domain, verified with Easy DKIM in both regions."
  type        = list(string)
}

variable "route53_zone_ids" {
  description = "Hosted zone per sending domain for the DKIM, MAIL FROM and DMARC records; domains left out are published by hand from the dns_records output."
  type        = map(string)
  default     = {}
}

variable "dmarc_record" {
  description = "The _dmarc TXT record of each sending domain (start with p=none and a rua address, tighten later)."
  type        = string
  default     = "v=DMARC1; p=none;"
}

variable "configuration_set_name" {
  description = "SES configuration set name, the same in both regions. null: \"<project>-<environment>\"."
  type        = string
  default     = null
}

variable "inbound" {
  description = "Replies (stop-on-reply): SES receives mail for the recipients (a reply subdomain), stores it in S3 and notifies the feedback function, which may read only those objects. Needs a primary region where SES receives mail. null: no receiving."
  type = object({
    recipients             = list(string)
    existing_rule_set_name = optional(string)
    activate_rule_set      = optional(bool, true)
    route53_zone_id        = optional(string)
    mx_domains             = optional(list(string), [])
    retention_days         = optional(number, 30)
    kms_key_arn            = optional(string)
  })
  default = null
}

################################################################################
# Unsubscribe endpoint
################################################################################

variable "unsubscribe_domain" {
  description = "Serve the unsubscribe links on your own name (e.g. unsubscribe.mail.acme.example): an ACM certificate for it in the primary region and, optionally, the Route 53 zone for its alias. null: the API's execute-api endpoint."
  type = object({
    domain_name              = string
    certificate_arn          = string
    route53_zone_id          = optional(string)
    disable_default_endpoint = optional(bool, false)
  })
  default = null
}

################################################################################
# Lambda
################################################################################

variable "lambda_package_path" {
  description = "Deployment zip built by `make package` (path relative to this directory)."
  type        = string
  default     = "../../../dist/outreach-lambda-py3.11-x86_64.zip"
}

variable "lambda_runtime" {
  description = "Lambda runtime; it must be the Python `make package` built the wheels for (LAMBDA_PYTHON, 3.11 by default)."
  type        = string
  default     = "python3.11"
}

variable "sender_timeout_seconds" {
  description = "Sender timeout (a batch of 10 sends); the job queue's visibility timeout is six times this."
  type        = number
  default     = 60
}

variable "sender_batch_size" {
  description = "SQS messages per sender invocation."
  type        = number
  default     = 10
}

variable "sender_maximum_concurrency" {
  description = "Most sender invocations the SQS event source runs at once (2-1000). The limiters, not this, keep SES under its rate."
  type        = number
  default     = 2
}

variable "reserved_concurrency" {
  description = "Reserved concurrency per function (-1: unreserved). Reserving needs an account concurrency quota above the default 10 of new accounts (docs/deploy.md)."
  type = object({
    planner     = optional(number, 1)
    sender      = optional(number, 3)
    feedback    = optional(number, 3)
    unsubscribe = optional(number, 5)
    alert_relay = optional(number, 1)
    imap_poller = optional(number, 1)
    webhooks    = optional(number, 2)
  })
  default = {}
}

variable "planner_schedule" {
  description = "How often EventBridge Scheduler runs the planner."
  type        = string
  default     = "rate(5 minutes)"
}

variable "log_level" {
  description = "OUTREACH_LOG_LEVEL of the functions."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "metrics_namespace" {
  description = "OUTREACH_METRICS_NAMESPACE: CloudWatch namespace of the engine's EMF metrics (alarms and dashboard read it too)."
  type        = string
  default     = "Outreach"
}

variable "alert_window_seconds" {
  description = "OUTREACH_ALERT_WINDOW_S: repeats of one alert (same kind, tenant and subject) within this many seconds are held back and counted."
  type        = number
  default     = 3600
}

variable "log_retention_days" {
  description = "Days function logs are kept."
  type        = number
  default     = 30
}

variable "unsubscribe_secret" {
  description = "HMAC secret signing unsubscribe links and reply tokens (OUTREACH_UNSUBSCRIBE_SECRET); 32+ random bytes. It ends up in the function configuration and the state."
  type        = string
  sensitive   = true

  validation {
    condition     = length(var.unsubscribe_secret) >= 32
    error_message = "unsubscribe_secret must be at least 32 characters."
  }
}

variable "unsubscribe_old_secrets" {
  description = "Earlier unsubscribe secrets that still verify links sent before a rotation."
  type        = list(string)
  default     = []
  sensitive   = true
}

variable "planner_horizon_seconds" {
  description = "OUTREACH_PLANNER_HORIZON_S: how far ahead a planner tick admits jobs."
  type        = number
  default     = 300
}

variable "sender_lease_seconds" {
  description = "OUTREACH_SENDER_LEASE_S: how long a job stays claimed by one sender."
  type        = number
  default     = 300
}

variable "max_attempts" {
  description = "OUTREACH_MAX_ATTEMPTS: transient failures before a job is dead-lettered."
  type        = number
  default     = 5
}

variable "failover_threshold" {
  description = "OUTREACH_FAILOVER_THRESHOLD: consecutive regional SES failures that switch to the failover region."
  type        = number
  default     = 3
}

variable "failover_cool_down_seconds" {
  description = "OUTREACH_FAILOVER_COOL_DOWN_S: seconds before the sender probes the primary region again."
  type        = number
  default     = 300
}

################################################################################
# Alerts and cost
################################################################################

variable "alert_emails" {
  description = "Addresses subscribed to the alert topics (one confirmation per region) and notified by the budget."
  type        = list(string)
  default     = []
}

variable "telegram" {
  description = "Telegram forwarder: chat id, the SSM SecureString parameter name holding the bot token, and optionally the Bot API base URL (a self-hosted Bot API server or a proxy). null: e-mail alerts only."
  type = object({
    chat_id              = string
    token_parameter_name = string
    api_base             = optional(string, "https://api.telegram.org")
  })
  default = null
}

variable "monthly_budget_usd" {
  description = "AWS Budgets monthly cost limit for the account, in US dollars."
  type        = number
  default     = 20
}

variable "ses_max_send_rate" {
  description = "The SES account's MaxSendRate (sends per second) in the primary region, as GetAccount reports it: the account-wide limit the planner books slots against."
  type        = number
  default     = 14

  validation {
    condition     = var.ses_max_send_rate > 0
    error_message = "ses_max_send_rate must be positive."
  }
}

variable "ses_max_24h_send" {
  description = "The SES account's Max24HourSend in the primary region, as GetAccount reports it."
  type        = number
  default     = 50000

  validation {
    condition     = var.ses_max_24h_send > 0
    error_message = "ses_max_24h_send must be positive."
  }
}

################################################################################
# Mailboxes and webhooks (issue 14): both off by default
################################################################################

variable "enable_imap_poller" {
  description = "Create the scheduled IMAP poller function (modules/imap_poller): identities that send through their own SMTP accounts get their replies and bounces read from their mailboxes. SES-sending identities use the inbound path instead."
  type        = bool
  default     = false
}

variable "imap_poll_schedule" {
  description = "How often the IMAP poller reads the mailboxes."
  type        = string
  default     = "rate(5 minutes)"
}

variable "mailbox_secrets_path" {
  description = "SSM Parameter Store path of the mailbox secrets (passwords, OAuth refresh tokens) that identities reference as ssm:<path><name>. null: /<project>/<environment>/mailboxes/. The sender and the IMAP poller may read the parameters under it, nothing else."
  type        = string
  default     = null
}

variable "enable_webhooks" {
  description = "Create the webhook delivery queue and function: tenants' endpoints (`outreach webhooks add`) get signed events, retried with backoff and dead-lettered after webhook_max_attempts."
  type        = bool
  default     = false
}

variable "webhook_max_attempts" {
  description = "Attempts of one webhook delivery before it is dead-lettered in the delivery log (30 s, 2 min, 8 min, then every 15 min)."
  type        = number
  default     = 8

  validation {
    condition     = var.webhook_max_attempts >= 1 && var.webhook_max_attempts <= 50
    error_message = "webhook_max_attempts must be 1 to 50."
  }
}

variable "webhook_secrets_path" {
  description = "SSM Parameter Store path of the webhook signing secrets (endpoints' ssm: references). null: /<project>/<environment>/webhooks/. Only the webhook function may read them."
  type        = string
  default     = null
}
