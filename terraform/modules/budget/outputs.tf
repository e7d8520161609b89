output "budget_name" {
  description = "Name of the budget."
  value       = try(aws_budgets_budget.this.name, null)
}

output "budget_arn" {
  description = "ARN of the budget."
  value       = try(aws_budgets_budget.this.arn, null)
}
