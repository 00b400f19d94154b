# The storage module planned with a mocked AWS provider (no account, no network).

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "111111111111", arn = "arn:aws:iam::111111111111:user/test", user_id = "TEST" }
  }
  mock_data "aws_region" {
    defaults = { name = "eu-west-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
}

variables {
  name_prefix     = "vwt-dev"
  log_bucket_name = "vwt-dev-access-logs"
  data_buckets = {
    "before-initial-deposit" = "vwt-dev-data-before-initial-deposit"
    "gambling-behaviour"     = "vwt-dev-data-gambling-behaviour"
  }
  model_buckets = {
    "bid-problem-gambling" = "vwt-dev-model-bid-problem-gambling"
    "gb-problem-gambling"  = "vwt-dev-model-gb-problem-gambling"
    "gb-marketing"         = "vwt-dev-model-gb-marketing"
  }
  results_bucket_name = "vwt-dev-results"
  protect_data        = true
  force_destroy       = false
}

run "six_buckets_encrypted_versioned_private" {
  command = plan
  module {
    source = "./modules/storage"
  }

  assert {
    condition     = length(aws_s3_bucket.this) == 6
    error_message = "expected 6 protected buckets (2 data + 3 model + results)"
  }
  assert {
    condition = toset([for b in aws_s3_bucket.this : b.bucket]) == toset([
      "vwt-dev-data-before-initial-deposit", "vwt-dev-data-gambling-behaviour",
      "vwt-dev-model-bid-problem-gambling", "vwt-dev-model-gb-problem-gambling", "vwt-dev-model-gb-marketing",
      "vwt-dev-results",
    ])
    error_message = "bucket names must be the ones the tool derived"
  }
  assert {
    condition = length(aws_s3_bucket_server_side_encryption_configuration.this) == 6 && alltrue([
      for k, b in aws_s3_bucket.this :
      one(aws_s3_bucket_server_side_encryption_configuration.this[k].rule).apply_server_side_encryption_by_default[0].sse_algorithm == "aws:kms"
    ])
    error_message = "every data/model bucket must be encrypted with the KMS key"
  }
  assert {
    condition = alltrue([for k, b in aws_s3_bucket.this :
      aws_s3_bucket_versioning.this[k].versioning_configuration[0].status == "Enabled"
    ])
    error_message = "every data/model bucket must be versioned"
  }
  assert {
    condition = alltrue([for k, b in aws_s3_bucket.this :
      aws_s3_bucket_public_access_block.this[k].block_public_acls &&
      aws_s3_bucket_public_access_block.this[k].block_public_policy &&
      aws_s3_bucket_public_access_block.this[k].ignore_public_acls &&
      aws_s3_bucket_public_access_block.this[k].restrict_public_buckets
    ])
    error_message = "every data/model bucket must block all public access"
  }
  assert {
    condition = alltrue([for k, b in aws_s3_bucket.this :
      aws_s3_bucket_ownership_controls.this[k].rule[0].object_ownership == "BucketOwnerEnforced" &&
      aws_s3_bucket_logging.this[k].target_bucket == "vwt-dev-access-logs"
    ])
    error_message = "every data/model bucket disables ACLs and logs to the access-log bucket"
  }
  assert {
    condition = alltrue([for k, b in aws_s3_bucket.this :
      one(aws_s3_bucket_lifecycle_configuration.this[k].rule).noncurrent_version_expiration[0].noncurrent_days == 90 &&
      one(aws_s3_bucket_lifecycle_configuration.this[k].rule).abort_incomplete_multipart_upload[0].days_after_initiation == 7
    ])
    error_message = "every data/model bucket expires non-current versions and aborts incomplete uploads"
  }
  assert {
    condition     = aws_s3_bucket_public_access_block.logs.block_public_policy && aws_s3_bucket_versioning.logs.versioning_configuration[0].status == "Enabled"
    error_message = "the access-log bucket must be private and versioned too"
  }
  assert {
    condition     = aws_kms_key.this.enable_key_rotation && aws_kms_key.this.deletion_window_in_days == 30
    error_message = "the KMS key must rotate"
  }
  assert {
    condition     = length(aws_s3_bucket_policy.this) == 6
    error_message = "every data/model bucket has its TLS-only bucket policy"
  }
}

run "the_emulator_serves_plain_http" {
  command = plan
  module {
    source = "./modules/storage"
  }
  variables {
    require_tls = false
  }

  assert {
    condition     = length(aws_s3_bucket_policy.this) == 0 && length(aws_s3_bucket_server_side_encryption_configuration.this) == 6
    error_message = "without require_tls there is no TLS-only policy, and everything else stays"
  }
}

run "guarded_against_destroy" {
  command = plan
  module {
    source = "./modules/storage"
  }

  assert {
    condition     = alltrue([for b in aws_s3_bucket.this : b.force_destroy == false])
    error_message = "force_destroy must stay off for protected data"
  }
  assert {
    condition     = length(terraform_data.destroy_guard) == 6 && alltrue([for g in terraform_data.destroy_guard : g.input.protected])
    error_message = "every data/model bucket needs an armed destroy guard"
  }
  assert {
    condition     = alltrue([for b in aws_s3_bucket.this : b.tags["vwt:protected"] == "true"])
    error_message = "protected buckets carry the vwt:protected tag the tool reads"
  }
}

run "disarmed_guard" {
  command = plan
  module {
    source = "./modules/storage"
  }
  variables {
    protect_data  = false
    force_destroy = true
  }

  assert {
    condition     = alltrue([for g in terraform_data.destroy_guard : !g.input.protected]) && length(output.protected_bucket_names) == 0
    error_message = "protect_data = false disarms every guard"
  }
}
