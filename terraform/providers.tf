provider "aws" {
  region = var.region

  # The account guard: terraform refuses to run against any other account.
  # (local has no accounts to guard; the emulator answers for any.)
  allowed_account_ids = length(var.allowed_account_ids) > 0 ? var.allowed_account_ids : null

  default_tags {
    tags = var.tags
  }
}
