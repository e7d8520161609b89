################################################################################
# HTTP API in front of one Lambda function: public routes, no public invoke grant
################################################################################
# An API Gateway HTTP API with a Lambda proxy integration (payload format 2.0, the event shape of a
# function URL), a $default stage with throttling and access logs, and an invoke permission that
# admits only this API's routes. Optionally a custom domain (ACM certificate in the same region) so
# that links can live on the sending domain.

locals {
  # "POST /unsubscribe/{token}" => method POST, path "/unsubscribe/{token}".
  routes = {
    for route in var.routes : route => {
      method = split(" ", route)[0]
      path   = split(" ", route)[1]
    }
  }
  custom_domain = var.custom_domain == null ? {} : { this = var.custom_domain }
  zoned_domain  = try(var.custom_domain.route53_zone_id, null) == null ? {} : local.custom_domain
}

resource "aws_apigatewayv2_api" "this" {
  name          = var.name
  description   = var.description
  protocol_type = "HTTP"

  disable_execute_api_endpoint = try(var.custom_domain.disable_default_endpoint, false)

  tags = var.tags
}

resource "aws_apigatewayv2_integration" "this" {
  api_id                 = aws_apigatewayv2_api.this.id
  integration_type       = "AWS_PROXY"
  integration_method     = "POST"
  integration_uri        = var.function_invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = var.integration_timeout_milliseconds
}

resource "aws_apigatewayv2_route" "this" {
  #checkov:skip=CKV_AWS_309: The routes are public by necessity: mailbox providers POST the RFC 8058 one-click unsubscribe anonymously; the HMAC-signed token in the path is the credential (ADR 0301).
  for_each = local.routes

  api_id             = aws_apigatewayv2_api.this.id
  route_key          = each.key
  authorization_type = "NONE"
  target             = "integrations/${aws_apigatewayv2_integration.this.id}"
}

################################################################################
# Stage: auto-deployed, throttled, access logs without the path (it holds the token)
################################################################################

resource "aws_cloudwatch_log_group" "access" {
  #checkov:skip=CKV_AWS_158: CloudWatch Logs encrypts every log group at rest with an AWS key for free; a customer key costs $1/month plus requests and is offered through log_kms_key_arn (ADR 0501).
  #checkov:skip=CKV_AWS_338: Short retention is deliberate: access logs of an unsubscribe endpoint are kept 30 days by default (log_retention_days), not a year.
  name              = "/aws/apigateway/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags
}

resource "aws_apigatewayv2_stage" "this" {
  api_id      = aws_apigatewayv2_api.this.id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_burst_limit = var.throttling_burst_limit
    throttling_rate_limit  = var.throttling_rate_limit
  }

  # The route key ("POST /unsubscribe/{token}"), never the path: the path carries the signed token,
  # a credential. No source IP either: it is the recipient's when a person clicks.
  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format = jsonencode({
      requestId          = "$context.requestId"
      requestTime        = "$context.requestTime"
      routeKey           = "$context.routeKey"
      status             = "$context.status"
      responseLength     = "$context.responseLength"
      integrationStatus  = "$context.integrationStatus"
      integrationLatency = "$context.integrationLatency"
      integrationError   = "$context.integrationErrorMessage"
      userAgent          = "$context.identity.userAgent"
    })
  }

  tags = var.tags
}

################################################################################
# Who may invoke the function: this API, these routes
################################################################################

resource "aws_lambda_permission" "this" {
  for_each = local.routes

  statement_id  = "HttpApi-${replace(each.key, "/[^A-Za-z0-9_-]/", "_")}"
  action        = "lambda:InvokeFunction"
  function_name = var.function_name
  principal     = "apigateway.amazonaws.com"
  # <execution arn>/<stage>/<method>/<path>; a path parameter may match any one segment.
  source_arn = "${aws_apigatewayv2_api.this.execution_arn}/*/${each.value.method == "ANY" ? "*" : each.value.method}${replace(each.value.path, "/\\{[^}]+\\}/", "*")}"
}

################################################################################
# Optional custom domain (and its Route 53 alias)
################################################################################

resource "aws_apigatewayv2_domain_name" "this" {
  for_each = local.custom_domain

  domain_name = each.value.domain_name

  domain_name_configuration {
    certificate_arn = each.value.certificate_arn
    endpoint_type   = "REGIONAL"
    security_policy = "TLS_1_2"
  }

  tags = var.tags
}

resource "aws_apigatewayv2_api_mapping" "this" {
  for_each = local.custom_domain

  api_id      = aws_apigatewayv2_api.this.id
  domain_name = aws_apigatewayv2_domain_name.this[each.key].id
  stage       = aws_apigatewayv2_stage.this.id
}

resource "aws_route53_record" "this" {
  for_each = local.zoned_domain

  zone_id = each.value.route53_zone_id
  name    = aws_apigatewayv2_domain_name.this[each.key].domain_name
  type    = "A"

  alias {
    name                   = aws_apigatewayv2_domain_name.this[each.key].domain_name_configuration[0].target_domain_name
    zone_id                = aws_apigatewayv2_domain_name.this[each.key].domain_name_configuration[0].hosted_zone_id
    evaluate_target_health = false
  }
}
