# One provider: every regional resource in the failover region says so with the AWS provider 6
# per-resource `region` argument (ADR 0500), so there is no alias to thread through the modules.
provider "aws" {
  region              = var.primary_region
  allowed_account_ids = var.allowed_account_ids

  # Every taggable resource gets these (the modules also accept `tags` for use without this block).
  default_tags {
    tags = local.tags
  }
}
