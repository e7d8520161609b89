# Two providers, one per region (ADR 0500): the default one for the primary region, where everything
# but the failover SES region lives, and `aws.failover`, passed to the modules that place resources in
# the failover region (`providers = { aws = aws.failover }`, or `aws.failover` where a module needs
# both regions). This works on AWS provider 5.100 and 6.x alike.
provider "aws" {
  region              = var.primary_region
  allowed_account_ids = var.allowed_account_ids

  # Every taggable resource gets these (the modules also accept `tags` for use without this block).
  default_tags {
    tags = local.tags
  }
}

provider "aws" {
  alias               = "failover"
  region              = var.failover_region
  allowed_account_ids = var.allowed_account_ids

  default_tags {
    tags = local.tags
  }
}
