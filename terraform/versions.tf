terraform {
  # the S3 backend vwt-deploy configures locks with use_lockfile: generally available in Terraform 1.11
  required_version = ">= 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }

  # Partial configuration: vwt-deploy passes bucket, key, region, encrypt and
  # use_lockfile (and, for local, the emulator's endpoint) at init.
  backend "s3" {}
}
