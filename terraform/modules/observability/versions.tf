terraform {
  required_version = ">= 1.5.7"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100, < 7.0"

      # The failover SES region's reputation alarms live there.
      configuration_aliases = [aws.failover]
    }
  }
}
