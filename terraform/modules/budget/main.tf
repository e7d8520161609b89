################################################################################
# Budget: a monthly cost limit for the account, with alerts
################################################################################

# The budget's ID is "<account id>:<name>": name the account explicitly rather than rely on the
# provider having looked it up (it does not with skip_requesting_account_id, as against a local endpoint).
data "aws_caller_identity" "current" {}

resource "aws_budgets_budget" "this" {
  account_id   = data.aws_caller_identity.current.account_id
  name         = var.name
  budget_type  = "COST"
  limit_amount = format("%.2f", var.monthly_limit_usd)
  limit_unit   = "USD"
  time_unit    = "MONTHLY"

  dynamic "cost_filter" {
    for_each = var.cost_filters

    content {
      name   = cost_filter.key
      values = cost_filter.value
    }
  }

  dynamic "notification" {
    for_each = var.notifications

    content {
      comparison_operator        = "GREATER_THAN"
      threshold                  = notification.value.threshold_percent
      threshold_type             = "PERCENTAGE"
      notification_type          = notification.value.type
      subscriber_sns_topic_arns  = var.alert_topic_arn == null ? [] : [var.alert_topic_arn]
      subscriber_email_addresses = var.email_addresses
    }
  }

  tags = var.tags
}
