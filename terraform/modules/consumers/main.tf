# Where predictions leave AWS (the seed's "After AWS"):
# - intervention: risk predictions -> intervention topic -> intervention queue (+ DLQ), read by the intervention
#   model, which restricts players of every operator (each event names its operator_id);
# - operator: predictions for the operators -> operator topic -> one queue (+ DLQ) per operator, subscribed with a
#   filter policy on the event's operator_id message attribute, so an operator's queue holds only its own players'
#   events. The operator's systems read their queue (or subscribe to the topic with the same filter policy).
# Internal records (deployments, pipeline reports) go to the admin topic of the monitoring module, never here.
# Everything is encrypted with the environment's KMS key; each queue accepts messages only from its topic.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  feeds = {
    intervention = "risk predictions for the intervention model (risk group -> restriction)"
    operator     = "predictions delivered to the operators, each to its own queue"
  }
  # queue key -> its topic and the operator whose events it holds (null: every event of the topic)
  queues = merge(
    { intervention = { feed = "intervention", operator = null } },
    { for id in sort(keys(var.operators)) : "operator-${id}" => { feed = "operator", operator = id } },
  )
  # Queue ARNs are made from their names, so each queue's policies are set when it is created (the
  # provider waits about 25 s for every change of a queue's attributes to settle: one wait, not three).
  queue_arn = { for k, _ in local.queues : k => "arn:${local.partition}:sqs:${data.aws_region.current.name}:${local.account_id}:${var.name_prefix}-${k}" }
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
  for_each                  = local.queues
  name                      = "${var.name_prefix}-${each.key}-dlq"
  kms_master_key_id         = var.kms_key_arn
  message_retention_seconds = 1209600
  # only its own queue may use it as a dead-letter queue
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [local.queue_arn[each.key]]
  })
  tags = merge(var.tags, { "vwt:feed" = each.value.feed }, each.value.operator == null ? {} : { "vwt:operator" = each.value.operator })
}

resource "aws_sqs_queue" "this" {
  for_each                   = local.queues
  name                       = "${var.name_prefix}-${each.key}"
  kms_master_key_id          = var.kms_key_arn
  message_retention_seconds  = var.message_retention_seconds
  visibility_timeout_seconds = var.visibility_timeout_seconds
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq[each.key].arn
    maxReceiveCount     = var.max_receive_count
  })
  policy = data.aws_iam_policy_document.queue[each.key].json
  tags   = merge(var.tags, { "vwt:feed" = each.value.feed }, each.value.operator == null ? {} : { "vwt:operator" = each.value.operator })
}

data "aws_iam_policy_document" "queue" {
  for_each = local.queues

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
      values   = [aws_sns_topic.this[each.value.feed].arn]
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
  for_each             = local.queues
  topic_arn            = aws_sns_topic.this[each.value.feed].arn
  protocol             = "sqs"
  endpoint             = aws_sqs_queue.this[each.key].arn
  raw_message_delivery = true
  # An operator's queue takes only the events whose operator_id message attribute is that operator's.
  filter_policy       = each.value.operator == null ? null : jsonencode({ operator_id = [each.value.operator] })
  filter_policy_scope = each.value.operator == null ? null : "MessageAttributes"
}
