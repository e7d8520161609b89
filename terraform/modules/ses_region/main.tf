################################################################################
# SES in one region: identities, DKIM, MAIL FROM, configuration set, events -> SNS
################################################################################
# Instantiated once per sending region (primary and failover): SES identities, reputation, sandbox
# status, suppression lists and configuration sets are all per region (aws.md §4.2).

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

# `id` is the region name on AWS provider 5 and 6 (`name` is deprecated on 6, `region` absent on 5).
data "aws_region" "current" {}

locals {
  region     = data.aws_region.current.id
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  domains    = toset(var.domains)

  # One MAIL FROM domain per region: its MX must name this region's feedback endpoint, so two
  # regions cannot share one.
  mail_from_label   = coalesce(var.mail_from_subdomain, "bounce-${local.region}")
  mail_from_domains = { for d in local.domains : d => "${local.mail_from_label}.${d}" }

  configuration_set_arn = "arn:${local.partition}:ses:${local.region}:${local.account_id}:configuration-set/${var.configuration_set_name}"

  dkim_records = flatten([
    for d in local.domains : [
      for token in try(aws_sesv2_email_identity.this[d].dkim_signing_attributes[0].tokens, []) : {
        domain  = d
        purpose = "DKIM (Easy DKIM, ${local.region})"
        name    = "${token}._domainkey.${d}"
        type    = "CNAME"
        value   = "${token}.dkim.amazonses.com"
      }
    ]
  ])
  mail_from_records = flatten([
    for d in local.domains : [
      {
        domain  = d
        purpose = "MAIL FROM MX (${local.region})"
        name    = local.mail_from_domains[d]
        type    = "MX"
        value   = "10 feedback-smtp.${local.region}.amazonses.com"
      },
      {
        domain  = d
        purpose = "SPF of the MAIL FROM domain (${local.region})"
        name    = local.mail_from_domains[d]
        type    = "TXT"
        value   = "v=spf1 include:amazonses.com ~all"
      },
    ]
  ])
  dmarc_records = var.publish_dmarc ? [
    for d in local.domains : {
      domain  = d
      purpose = "DMARC (once per domain, not per region)"
      name    = "_dmarc.${d}"
      type    = "TXT"
      value   = var.dmarc_record
    }
  ] : []
  dns_records = concat(local.dkim_records, local.mail_from_records, local.dmarc_records)
}

################################################################################
# Configuration set
################################################################################

resource "aws_sesv2_configuration_set" "this" {
  configuration_set_name = var.configuration_set_name

  delivery_options {
    tls_policy = var.tls_policy
  }

  reputation_options {
    reputation_metrics_enabled = true
  }

  sending_options {
    sending_enabled = var.sending_enabled
  }

  suppression_options {
    suppressed_reasons = ["BOUNCE", "COMPLAINT"]
  }

  tags = var.tags
}

################################################################################
# Identities (Easy DKIM) and custom MAIL FROM
################################################################################

resource "aws_sesv2_email_identity" "this" {
  for_each = local.domains

  email_identity         = each.value
  configuration_set_name = aws_sesv2_configuration_set.this.configuration_set_name

  dkim_signing_attributes {
    next_signing_key_length = var.dkim_key_length
  }

  tags = var.tags
}

resource "aws_sesv2_email_identity_mail_from_attributes" "this" {
  for_each = local.domains

  email_identity         = aws_sesv2_email_identity.this[each.value].email_identity
  mail_from_domain       = local.mail_from_domains[each.value]
  behavior_on_mx_failure = "USE_DEFAULT_VALUE"
}

################################################################################
# Event destination -> SNS
################################################################################

resource "aws_sns_topic" "events" {
  #checkov:skip=CKV_AWS_26: SES cannot publish to a topic encrypted with the AWS-managed aws/sns key; a customer key costs $1/month per region and is offered through topic_kms_key_arn (ADR 0501). Delivery to the Lambda subscriber is over TLS.
  name              = "${var.name}-ses-events"
  signature_version = 2
  kms_master_key_id = var.topic_kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "events" {
  statement {
    sid       = "AllowSesEventPublishing"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.events.arn]

    principals {
      type        = "Service"
      identifiers = ["ses.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [local.configuration_set_arn]
    }
  }
}

resource "aws_sns_topic_policy" "events" {
  arn    = aws_sns_topic.events.arn
  policy = data.aws_iam_policy_document.events.json
}

resource "aws_sesv2_configuration_set_event_destination" "sns" {
  configuration_set_name = aws_sesv2_configuration_set.this.configuration_set_name
  event_destination_name = "sns"

  event_destination {
    enabled              = true
    matching_event_types = var.event_types

    sns_destination {
      topic_arn = aws_sns_topic.events.arn
    }
  }

  depends_on = [aws_sns_topic_policy.events]
}

################################################################################
# Optional Route 53 records (global: names differ per region, DMARC only where published)
################################################################################

locals {
  # Keys must be known at plan time, so DKIM records are keyed by domain and position (Easy DKIM
  # always issues three tokens), never by the token itself.
  zoned_domains = toset([for d in local.domains : d if contains(keys(var.route53_zone_ids), d)])
}

resource "aws_route53_record" "dkim" {
  for_each = { for pair in setproduct(local.zoned_domains, [0, 1, 2]) : "${pair[0]}#${pair[1]}" => pair }

  zone_id = var.route53_zone_ids[each.value[0]]
  name    = "${aws_sesv2_email_identity.this[each.value[0]].dkim_signing_attributes[0].tokens[each.value[1]]}._domainkey.${each.value[0]}"
  type    = "CNAME"
  ttl     = 600
  records = ["${aws_sesv2_email_identity.this[each.value[0]].dkim_signing_attributes[0].tokens[each.value[1]]}.dkim.amazonses.com"]
}

resource "aws_route53_record" "mail_from_mx" {
  for_each = local.zoned_domains

  zone_id = var.route53_zone_ids[each.value]
  name    = local.mail_from_domains[each.value]
  type    = "MX"
  ttl     = 600
  records = ["10 feedback-smtp.${local.region}.amazonses.com"]
}

resource "aws_route53_record" "mail_from_spf" {
  for_each = local.zoned_domains

  zone_id = var.route53_zone_ids[each.value]
  name    = local.mail_from_domains[each.value]
  type    = "TXT"
  ttl     = 600
  records = ["v=spf1 include:amazonses.com ~all"]
}

resource "aws_route53_record" "dmarc" {
  for_each = var.publish_dmarc ? local.zoned_domains : toset([])

  zone_id = var.route53_zone_ids[each.value]
  name    = "_dmarc.${each.value}"
  type    = "TXT"
  ttl     = 600
  records = [var.dmarc_record]
}
