# Storage: the data buckets, one model bucket per model, the access-log bucket,
# and the customer-managed KMS key every other module encrypts with.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition

  # Every protected bucket (data, model, results) by a stable key: data:<key> / model:<model> / results.
  buckets = merge(
    { for key, name in var.data_buckets : "data:${key}" => { name = name, kind = "data" } },
    { for model, name in var.model_buckets : "model:${model}" => { name = name, kind = "model" } },
    var.results_bucket_name == null ? {} : { results = { name = var.results_bucket_name, kind = "results" } },
  )
}

# ---------------------------------------------------------------- KMS

resource "aws_kms_key" "this" {
  description             = "${var.name_prefix}: data, models, images, logs, topics and queues"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days
  policy                  = data.aws_iam_policy_document.key.json
  tags                    = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name_prefix}"
  target_key_id = aws_kms_key.this.key_id
}

data "aws_iam_policy_document" "key" {
  #checkov:skip=CKV_AWS_109:a key policy's Resource "*" is this key only; the account statement is what keeps the key manageable
  #checkov:skip=CKV_AWS_111:a key policy's Resource "*" is this key only (see the statements' conditions)
  #checkov:skip=CKV_AWS_356:a key policy's Resource "*" is this key only; there is no narrower form
  # The account administers and uses the key through IAM policies (the key policy
  # delegates to IAM; without this statement the key becomes unmanageable).
  # In a key policy, Resource "*" means "this key": there is no narrower form.
  statement {
    sid = "AccountAdministersAndDelegatesToIam"
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
    actions = [
      "kms:CancelKeyDeletion", "kms:CreateAlias", "kms:CreateGrant", "kms:Decrypt", "kms:DeleteAlias",
      "kms:DescribeKey", "kms:DisableKey", "kms:DisableKeyRotation", "kms:EnableKey", "kms:EnableKeyRotation",
      "kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:GetKeyPolicy",
      "kms:GetKeyRotationStatus", "kms:ListAliases", "kms:ListGrants", "kms:ListKeyPolicies",
      "kms:ListResourceTags", "kms:PutKeyPolicy", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:RetireGrant",
      "kms:RevokeGrant", "kms:ScheduleKeyDeletion", "kms:TagResource", "kms:UntagResource",
      "kms:UpdateAlias", "kms:UpdateKeyDescription",
    ]
    resources = ["*"] # iam-star-ok: key policy, "*" is this key
  }

  # CloudWatch Logs encrypts this environment's log groups with the key.
  statement {
    sid = "CloudWatchLogsEncryptsLogGroups"
    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = ["*"] # iam-star-ok: key policy, "*" is this key
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*"]
    }
  }

  # CloudWatch alarms publish to the encrypted admin topic; SNS delivers to the encrypted queues.
  statement {
    sid = "AlarmsAndTopicsUseTheKey"
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com", "sns.amazonaws.com"]
    }
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = ["*"] # iam-star-ok: key policy, "*" is this key
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

# ---------------------------------------------------------------- data and model buckets

resource "aws_s3_bucket" "this" {
  for_each      = local.buckets
  bucket        = each.value.name
  force_destroy = var.force_destroy
  tags          = merge(var.tags, { "vwt:kind" = each.value.kind, "vwt:protected" = tostring(var.protect_data) })
}

resource "aws_s3_bucket_ownership_controls" "this" {
  for_each = aws_s3_bucket.this
  bucket   = each.value.bucket
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  for_each                = aws_s3_bucket.this
  bucket                  = each.value.bucket
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "this" {
  for_each = aws_s3_bucket.this
  bucket   = each.value.bucket
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  for_each = aws_s3_bucket.this
  bucket   = each.value.bucket
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.this.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  for_each = aws_s3_bucket.this
  bucket   = each.value.bucket

  rule {
    id     = "expire-noncurrent-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

resource "aws_s3_bucket_logging" "this" {
  for_each      = aws_s3_bucket.this
  bucket        = each.value.bucket
  target_bucket = aws_s3_bucket.logs.bucket
  target_prefix = "${each.value.bucket}/"

  # S3 checks at once that the log bucket lets the logging service write.
  depends_on = [aws_s3_bucket_policy.logs, aws_s3_bucket_ownership_controls.logs]
}

resource "aws_s3_bucket_policy" "this" {
  for_each = var.require_tls ? aws_s3_bucket.this : {}
  bucket   = each.value.bucket
  policy   = data.aws_iam_policy_document.tls_only[each.key].json

  depends_on = [aws_s3_bucket_public_access_block.this]
}

data "aws_iam_policy_document" "tls_only" {
  for_each = local.buckets

  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"] # iam-star-ok: a Deny of every S3 action over plain HTTP
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    resources = ["arn:${local.partition}:s3:::${each.value.name}", "arn:${local.partition}:s3:::${each.value.name}/*"]
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  statement {
    sid     = "DenyOutdatedTls"
    effect  = "Deny"
    actions = ["s3:*"] # iam-star-ok: a Deny of every S3 action over TLS < 1.2
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    resources = ["arn:${local.partition}:s3:::${each.value.name}", "arn:${local.partition}:s3:::${each.value.name}/*"]
    condition {
      test     = "NumericLessThan"
      variable = "s3:TlsVersion"
      values   = ["1.2"]
    }
  }
}

# ---------------------------------------------------------------- the destroy guard
#
# `prevent_destroy` cannot depend on a variable, so the guard is a resource that
# depends on each protected bucket, on every setting of the buckets and on the
# KMS key: Terraform destroys it before all of them (dependents go before their
# dependencies), and its destroy-time provisioner fails while the last applied
# `protect_data` was true. Everything it depends on is then left as it is: the
# buckets keep their data, encryption, public access block, policy and logging,
# and the key stays to decrypt them. A replacement (e.g. a rename) is refused the
# same way. To destroy on purpose, apply with protect_data = false first (and
# force_destroy = true to empty the versioned buckets), then destroy. See README.md.

resource "terraform_data" "destroy_guard" {
  for_each = aws_s3_bucket.this

  input = {
    bucket    = each.value.bucket
    protected = var.protect_data
  }

  provisioner "local-exec" {
    when       = destroy
    on_failure = fail
    command    = self.input.protected ? "echo 'vwt-deploy: refusing to destroy protected bucket ${self.input.bucket}: apply with protect_data=false first (vwt-deploy down --destroy-data)' >&2; exit 1" : "true"
  }

  depends_on = [
    aws_kms_key.this,
    aws_kms_alias.this,
    aws_s3_bucket_ownership_controls.this,
    aws_s3_bucket_public_access_block.this,
    aws_s3_bucket_versioning.this,
    aws_s3_bucket_server_side_encryption_configuration.this,
    aws_s3_bucket_lifecycle_configuration.this,
    aws_s3_bucket_logging.this,
    aws_s3_bucket_policy.this,
    aws_s3_bucket_public_access_block.logs,
    aws_s3_bucket_versioning.logs,
    aws_s3_bucket_server_side_encryption_configuration.logs,
    aws_s3_bucket_lifecycle_configuration.logs,
    aws_s3_bucket_policy.logs,
  ]
}

# ---------------------------------------------------------------- access-log bucket
#
# S3 server access logging cannot deliver to a bucket encrypted with SSE-KMS, so
# this one bucket uses SSE-S3 (AES-256). It holds only access logs, no data.

resource "aws_s3_bucket" "logs" {
  #checkov:skip=CKV_AWS_145:S3 server access logging cannot deliver to an SSE-KMS bucket; SSE-S3 (AES-256) instead
  bucket        = var.log_bucket_name
  force_destroy = var.force_destroy
  tags          = merge(var.tags, { "vwt:kind" = "access-logs" })
}

resource "aws_s3_bucket_ownership_controls" "logs" {
  bucket = aws_s3_bucket.logs.bucket
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "logs" {
  bucket                  = aws_s3_bucket.logs.bucket
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "logs" {
  bucket = aws_s3_bucket.logs.bucket
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {
  bucket = aws_s3_bucket.logs.bucket
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "logs" {
  bucket = aws_s3_bucket.logs.bucket

  rule {
    id     = "expire-access-logs"
    status = "Enabled"
    filter {}
    expiration {
      days = var.access_log_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.logs]
}

resource "aws_s3_bucket_policy" "logs" {
  bucket = aws_s3_bucket.logs.bucket
  policy = data.aws_iam_policy_document.logs.json

  depends_on = [aws_s3_bucket_public_access_block.logs]
}

data "aws_iam_policy_document" "logs" {
  # With require_tls (every environment on AWS) the policy also denies plain HTTP.
  source_policy_documents = var.require_tls ? [data.aws_iam_policy_document.logs_tls.json] : []

  statement {
    sid     = "S3ServerAccessLogsFromThisEnvironment"
    actions = ["s3:PutObject"]
    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }
    resources = ["arn:${local.partition}:s3:::${var.log_bucket_name}/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [for b in local.buckets : "arn:${local.partition}:s3:::${b.name}"]
    }
  }
}

data "aws_iam_policy_document" "logs_tls" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"] # iam-star-ok: a Deny of every S3 action over plain HTTP
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    resources = ["arn:${local.partition}:s3:::${var.log_bucket_name}", "arn:${local.partition}:s3:::${var.log_bucket_name}/*"]
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}
