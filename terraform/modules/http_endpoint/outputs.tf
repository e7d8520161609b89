output "url" {
  description = "Base URL without a trailing slash: https://<custom domain> when one is set, else the execute-api endpoint."
  value       = var.custom_domain == null ? try(aws_apigatewayv2_api.this.api_endpoint, null) : "https://${var.custom_domain.domain_name}"
}

output "api_id" {
  description = "ID of the HTTP API."
  value       = try(aws_apigatewayv2_api.this.id, null)
}

output "api_endpoint" {
  description = "Default execute-api endpoint (https://<id>.execute-api.<region>.amazonaws.com)."
  value       = try(aws_apigatewayv2_api.this.api_endpoint, null)
}

output "execution_arn" {
  description = "Execution ARN of the API (the prefix of the invoke permissions' source ARNs)."
  value       = try(aws_apigatewayv2_api.this.execution_arn, null)
}

output "access_log_group_name" {
  description = "CloudWatch log group of the access logs."
  value       = try(aws_cloudwatch_log_group.access.name, null)
}

output "domain_target" {
  description = "With a custom domain: the regional name and hosted zone its DNS alias (or CNAME) must point at; null otherwise."
  value = try({
    name    = aws_apigatewayv2_domain_name.this["this"].domain_name_configuration[0].target_domain_name
    zone_id = aws_apigatewayv2_domain_name.this["this"].domain_name_configuration[0].hosted_zone_id
  }, null)
}
