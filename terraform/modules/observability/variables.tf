################################################################################
# Alarms
################################################################################

variable "name" {
  description = "Prefix of every alarm name, and the dashboard's name."
  type        = string
}

variable "alarm_topic_arn" {
  description = "Alert topic in the home region (the default provider's, also the primary SES region), notified on ALARM and OK."
  type        = string
}

variable "failover_alarm_topic_arn" {
  description = "Alert topic in the failover SES region (the aws.failover provider's): its SES reputation and reject alarms notify it, since an alarm can only notify a topic in its own region."
  type        = string
}

variable "bounce_rate_threshold" {
  description = "Alarm when SES Reputation.BounceRate exceeds this fraction (SES reviews accounts at 0.05)."
  type        = number
  default     = 0.02

  validation {
    condition     = var.bounce_rate_threshold > 0 && var.bounce_rate_threshold < 0.1
    error_message = "bounce_rate_threshold must be a fraction below SES's 0.10 pause level."
  }
}

variable "complaint_rate_threshold" {
  description = "Alarm when SES Reputation.ComplaintRate exceeds this fraction (SES reviews accounts at 0.001)."
  type        = number
  default     = 0.0005

  validation {
    condition     = var.complaint_rate_threshold > 0 && var.complaint_rate_threshold < 0.005
    error_message = "complaint_rate_threshold must be a fraction below SES's 0.005 pause level."
  }
}

variable "queue_name" {
  description = "Name of the job queue (CloudWatch QueueName)."
  type        = string
}

variable "dlq_name" {
  description = "Name of the job dead-letter queue."
  type        = string
}

variable "failed_invocations_queue_name" {
  description = "Name of the queue that keeps failed asynchronous invocations; null: no alarm for it."
  type        = string
  default     = null
}

variable "oldest_message_age_threshold_seconds" {
  description = "Alarm when the oldest job has waited longer than this (jobs may be delayed up to 900 s on purpose)."
  type        = number
  default     = 3600
}

variable "function_names" {
  description = "Lambda functions whose errors raise an alarm (one alarm each)."
  type        = list(string)
}

variable "lambda_error_threshold" {
  description = "Errors per 5 minutes a function may have before its alarm fires."
  type        = number
  default     = 0
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the engine's EMF metrics (OUTREACH_METRICS_NAMESPACE)."
  type        = string
  default     = "Outreach"
}

variable "throttle_threshold" {
  description = "SES throttled sends per 15 minutes (engine metric ProviderError, Kind=throttled) before the alarm fires."
  type        = number
  default     = 10
}

################################################################################
# Dashboard
################################################################################

variable "create_dashboard" {
  description = "Create the dashboard ($3/month beyond three free dashboards)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags for the alarms (dashboards take no tags)."
  type        = map(string)
  default     = {}
}
