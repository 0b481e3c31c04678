terraform {
  # 1.11: the S3 backend's own lock file (use_lockfile) is generally available, DynamoDB locking deprecated
  required_version = ">= 1.11.0"

  # Partial configuration: bucket, key, region and locking per environment come from
  # environments/<environment>.s3.tfbackend at `terraform init -backend-config=...` (docs/aws.md "Terraform state")
  backend "s3" {}

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.20"
    }
  }
}

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = local.tags
  }
}
