# Where predictions leave AWS (the seed's "After AWS"):
# - intervention: risk predictions -> intervention topic -> intervention queue (+ DLQ), read by the intervention model;
# - operator: predictions operators receive -> operator topic -> operator queue (+ DLQ); the operator's own
#   systems may also subscribe to the topic (e.g. HTTPS) in their account set-up.
# Everything is encrypted with the environment's KMS key; each queue accepts messages only from its topic.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  # Queue ARNs are made from their names, so each queue's policies are set when it is created (the
  # provider waits about 25 s for every change of a queue's attributes to settle: one wait, not three).
  queue_arn = { for k, _ in local.feeds : k => "arn:${local.partition}:sqs:${data.aws_region.current.name}:${local.account_id}:${var.name_prefix}-${k}" }
  feeds = {
    intervention = "risk predictions for the intervention model (risk group -> restriction)"
    operator     = "predictions delivered to the operator"
  }
}

resource "aws_sns_topic" "this" {
  for_each          = local.feeds
  name              = "${var.name_prefix}-${each.key}"
  display_name      = "${var.name_prefix} ${each.key}"
  kms_master_key_id = var.kms_key_arn
  tags              = merge(var.tags, { "vwt:feed" = each.key })
}

resource "aws_sns_topic_policy" "this" {
  for_each = aws_sns_topic.this
  arn      = each.value.arn
  policy   = data.aws_iam_policy_document.topic[each.key].json
}

data "aws_iam_policy_document" "topic" {
  for_each = local.feeds

  statement {
    sid     = "ThisAccountOnly"
    actions = ["sns:Publish", "sns:Subscribe", "sns:GetTopicAttributes", "sns:ListSubscriptionsByTopic"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
    resources = [aws_sns_topic.this[each.key].arn]
  }

  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["sns:Publish"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    resources = [aws_sns_topic.this[each.key].arn]
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sqs_queue" "dlq" {
  for_each                  = local.feeds
  name                      = "${var.name_prefix}-${each.key}-dlq"
  kms_master_key_id         = var.kms_key_arn
  message_retention_seconds = 1209600
  # only its own queue may use it as a dead-letter queue
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [local.queue_arn[each.key]]
  })
  tags = merge(var.tags, { "vwt:feed" = each.key })
}

resource "aws_sqs_queue" "this" {
  for_each                   = local.feeds
  name                       = "${var.name_prefix}-${each.key}"
  kms_master_key_id          = var.kms_key_arn
  message_retention_seconds  = var.message_retention_seconds
  visibility_timeout_seconds = var.visibility_timeout_seconds
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq[each.key].arn
    maxReceiveCount     = var.max_receive_count
  })
  policy = data.aws_iam_policy_document.queue[each.key].json
  tags   = merge(var.tags, { "vwt:feed" = each.key })
}

data "aws_iam_policy_document" "queue" {
  for_each = local.feeds

  statement {
    sid     = "OnlyItsTopicSends"
    actions = ["sqs:SendMessage"]
    principals {
      type        = "Service"
      identifiers = ["sns.amazonaws.com"]
    }
    resources = [local.queue_arn[each.key]]
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_sns_topic.this[each.key].arn]
    }
  }

  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["sqs:*"] # iam-star-ok: a Deny of every SQS action over plain HTTP
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    resources = [local.queue_arn[each.key]]
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sns_topic_subscription" "this" {
  for_each             = local.feeds
  topic_arn            = aws_sns_topic.this[each.key].arn
  protocol             = "sqs"
  endpoint             = aws_sqs_queue.this[each.key].arn
  raw_message_delivery = true
}
