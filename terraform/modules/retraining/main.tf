# Retraining: one Step Functions state machine per model (definition and policy rendered
# by vwt-deploy, filled here with templatefile), its log group and X-Ray tracing, the
# pipeline's size and label functions, and one EventBridge schedule per model.

data "aws_partition" "current" {}

locals {
  partition    = data.aws_partition.current.partition
  account_id   = var.template_vars.account_id
  region       = var.template_vars.region
  has_package  = var.lambda_package_path != null
  function_arn = "arn:${local.partition}:lambda:${local.region}:${local.account_id}:function"

  functions = {
    size = {
      name        = "${var.name_prefix}-pipeline-size"
      handler     = "pipeline.size.handler"
      description = "Measures a model's training data and picks the training instances"
      timeout     = 120
      memory      = 256
    }
    label = {
      name        = "${var.name_prefix}-pipeline-label"
      handler     = "pipeline.label.handler"
      description = "Labels training data with self-exclusion as the anchor"
      timeout     = 900
      memory      = 1024
    }
    score-check = {
      name        = "${var.name_prefix}-scoring-check"
      handler     = "pipeline.score.check_handler"
      description = "Checks every row batch scoring will read and sizes the transform job"
      timeout     = 900
      memory      = 1024
    }
    drift = {
      name        = "${var.name_prefix}-drift"
      handler     = "pipeline.drift.handler"
      description = "Finds the captured data of a drift check, publishes its PSI metrics and starts retraining on drift"
      timeout     = 120
      memory      = 256
    }
    score-publish = {
      name        = "${var.name_prefix}-scoring-publish"
      handler     = "pipeline.score.publish_handler"
      description = "Turns batch scores into risk groups and events, publishes them and writes each operator's results"
      timeout     = 900
      memory      = 2048
    }
  }
  # the functions that read the data buckets (the publish function reads only the transform's output)
  reads_data = toset(["size", "label", "score-check"])

  # Names AWS limits to 64 characters keep a hash suffix when the model name is long.
  names = { for model, _ in var.models : model => {
    state_machine = "${var.name_prefix}-${model}-retraining" # <= 80 characters (24 + 40 + 12)
    role          = length("${var.name_prefix}-${model}-sfn") <= 64 ? "${var.name_prefix}-${model}-sfn" : "${substr("${var.name_prefix}-${model}", 0, 51)}-${substr(sha1(model), 0, 8)}-sfn"
    events_role   = length("${var.name_prefix}-${model}-schedule") <= 64 ? "${var.name_prefix}-${model}-schedule" : "${substr("${var.name_prefix}-${model}", 0, 46)}-${substr(sha1(model), 0, 8)}-schedule"
    approved_rule = length("${var.name_prefix}-${model}-approved") <= 64 ? "${var.name_prefix}-${model}-approved" : "${substr("${var.name_prefix}-${model}", 0, 46)}-${substr(sha1(model), 0, 8)}-approved"
    scoring_rule  = length("${var.name_prefix}-${model}-scoring") <= 64 ? "${var.name_prefix}-${model}-scoring" : "${substr("${var.name_prefix}-${model}", 0, 47)}-${substr(sha1(model), 0, 8)}-scoring"
    drift_rule    = length("${var.name_prefix}-${model}-drift") <= 64 ? "${var.name_prefix}-${model}-drift" : "${substr("${var.name_prefix}-${model}", 0, 49)}-${substr(sha1(model), 0, 8)}-drift"
  } }

  template_vars = merge(var.template_vars, {
    size_function_arn            = "${local.function_arn}:${local.functions.size.name}"
    label_function_arn           = "${local.function_arn}:${local.functions.label.name}"
    scoring_check_function_arn   = "${local.function_arn}:${local.functions["score-check"].name}"
    scoring_publish_function_arn = "${local.function_arn}:${local.functions["score-publish"].name}"
    drift_function_arn           = "${local.function_arn}:${local.functions.drift.name}"
  })

  # Until the retraining pipeline is rendered, an execution fails at once and says why.
  placeholder_definition = jsonencode({
    Comment = "placeholder: the retraining pipeline of this model is not rendered yet (vwt-deploy up renders it)"
    StartAt = "NotRendered"
    States = {
      NotRendered = {
        Type  = "Fail"
        Error = "PipelineNotRendered"
        Cause = "the retraining definition was not rendered; run vwt-deploy up"
      }
    }
  })

  definitions = { for model, _ in var.models : model => (
    contains(keys(var.state_machines), model)
    ? templatefile(var.state_machines[model].definition_path, local.template_vars)
    : local.placeholder_definition
  ) }
}

# ---------------------------------------------------------------- pipeline functions

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "function" {
  for_each           = local.functions
  name               = "${each.value.name}-lambda"
  description        = each.value.description
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "function" {
  for_each = local.functions

  statement {
    sid       = "WriteItsLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function[each.key].arn}:*"]
  }

  # size counts the training data's rows (GetObject of each file), label copies it, score-check reads every row
  # batch scoring will score
  dynamic "statement" {
    for_each = contains(local.reads_data, each.key) ? [1] : []
    content {
      sid       = "ListTheDataBuckets"
      actions   = ["s3:ListBucket"]
      resources = [for b in var.data_bucket_names : "arn:${local.partition}:s3:::${b}"]
    }
  }

  dynamic "statement" {
    for_each = contains(local.reads_data, each.key) ? [1] : []
    content {
      sid       = "ReadTheData"
      actions   = ["s3:GetObject"]
      resources = [for b in var.data_bucket_names : "arn:${local.partition}:s3:::${b}/*"]
    }
  }

  # score-publish reads the transform job's output (scoring/<job>/ of the model buckets), writes each operator's
  # results file (a multipart upload past 8 MiB: PutObject authorises it, AbortMultipartUpload cleans up), and
  # publishes the events to the encrypted topics (SNS asks KMS for a data key with the publisher's credentials).
  dynamic "statement" {
    for_each = each.key == "score-publish" ? [1] : []
    content {
      sid       = "ListTheScores"
      actions   = ["s3:ListBucket"]
      resources = [for b in var.model_bucket_names : "arn:${local.partition}:s3:::${b}"]
      condition {
        test     = "StringLike"
        variable = "s3:prefix"
        values   = ["scoring/*"]
      }
    }
  }

  dynamic "statement" {
    for_each = each.key == "score-publish" ? [1] : []
    content {
      sid       = "ReadTheScores"
      actions   = ["s3:GetObject"]
      resources = [for b in var.model_bucket_names : "arn:${local.partition}:s3:::${b}/scoring/*"]
    }
  }

  dynamic "statement" {
    for_each = each.key == "score-publish" ? [1] : []
    content {
      sid       = "WriteTheResults"
      actions   = ["s3:PutObject", "s3:AbortMultipartUpload"]
      resources = ["arn:${local.partition}:s3:::${var.scoring.results_bucket_name}/*"]
    }
  }

  dynamic "statement" {
    for_each = each.key == "score-publish" ? [1] : []
    content {
      sid       = "PublishTheEvents"
      actions   = ["sns:Publish"]
      resources = [var.scoring.intervention_topic_arn, var.scoring.operator_topic_arn]
    }
  }

  # The label function writes to the model's bucket: the labelled copy (labelled/<run>/) and the Ground Truth
  # input (labeling/<run>/input/: manifest, categories, template); MergeLabels reads Ground Truth's output
  # manifest back (labeling/<run>/output/). A copy over 8 MiB goes up as a multipart upload, which PutObject
  # authorises and AbortMultipartUpload cleans up after a failure.
  dynamic "statement" {
    for_each = each.key == "label" ? [1] : []
    content {
      sid       = "WriteTheLabelledCopy"
      actions   = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"]
      resources = flatten([for b in var.model_bucket_names : ["arn:${local.partition}:s3:::${b}/labelled/*", "arn:${local.partition}:s3:::${b}/labeling/*"]])
    }
  }

  # drift: lists the endpoints' capture (data-capture/ of the model buckets) and reads the check's result
  # (drift/<job>/drift.json), publishes the PSI to its own CloudWatch namespace, and may start the retraining
  # pipelines of this environment (mode train, when a model's catalogue entry asks for it).
  dynamic "statement" {
    for_each = each.key == "drift" ? [1] : []
    content {
      sid       = "ListTheCapture"
      actions   = ["s3:ListBucket"]
      resources = [for b in var.model_bucket_names : "arn:${local.partition}:s3:::${b}"]
      condition {
        test     = "StringLike"
        variable = "s3:prefix"
        values   = ["data-capture/*"]
      }
    }
  }

  dynamic "statement" {
    for_each = each.key == "drift" ? [1] : []
    content {
      sid       = "ReadTheDriftResults"
      actions   = ["s3:GetObject"]
      resources = [for b in var.model_bucket_names : "arn:${local.partition}:s3:::${b}/drift/*"]
    }
  }

  dynamic "statement" {
    for_each = each.key == "drift" ? [1] : []
    content {
      sid       = "PublishTheDriftMetrics"
      actions   = ["cloudwatch:PutMetricData"]
      resources = ["*"] # iam-star-ok: PutMetricData supports no resource-level permissions; limited by namespace below
      condition {
        test     = "StringEquals"
        variable = "cloudwatch:namespace"
        values   = ["VWT/Drift"]
      }
    }
  }

  dynamic "statement" {
    for_each = each.key == "drift" ? [1] : []
    content {
      sid       = "RetrainOnDrift"
      actions   = ["states:StartExecution"]
      resources = [for model, n in local.names : "arn:${local.partition}:states:${local.region}:${local.account_id}:stateMachine:${n.state_machine}"]
    }
  }

  statement {
    sid       = "UseTheEnvironmentKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }

  statement {
    sid       = "XRayTraces"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"] # iam-star-ok: X-Ray trace APIs support no resource-level permissions
  }
}

resource "aws_iam_role_policy" "function" {
  for_each = local.functions
  name     = "pipeline-${each.key}"
  role     = aws_iam_role.function[each.key].id
  policy   = data.aws_iam_policy_document.function[each.key].json
}

resource "aws_cloudwatch_log_group" "function" {
  for_each          = local.functions
  name              = "/aws/lambda/${each.value.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_lambda_function" "this" {
  for_each         = local.has_package ? local.functions : {}
  function_name    = each.value.name
  description      = each.value.description
  role             = aws_iam_role.function[each.key].arn
  handler          = each.value.handler
  runtime          = var.lambda_runtime
  filename         = var.lambda_package_path
  source_code_hash = filebase64sha256(var.lambda_package_path)
  timeout          = each.value.timeout
  memory_size      = each.value.memory
  kms_key_arn      = var.kms_key_arn

  tracing_config {
    mode = "Active"
  }

  environment {
    variables = {
      VWT_NAME_PREFIX            = var.name_prefix
      VWT_TRAINING_SIZING        = jsonencode(var.training_sizing)
      VWT_ENVIRONMENT            = var.scoring.environment
      VWT_INTERVENTION_TOPIC_ARN = var.scoring.intervention_topic_arn
      VWT_OPERATOR_TOPIC_ARN     = var.scoring.operator_topic_arn
    }
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.function, aws_cloudwatch_log_group.function]
}

# ---------------------------------------------------------------- state machines

data "aws_iam_policy_document" "states_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["states.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "state_machine" {
  for_each           = var.models
  name               = local.names[each.key].role
  description        = "The retraining pipeline of ${each.key}"
  assume_role_policy = data.aws_iam_policy_document.states_assume.json
  tags               = merge(var.tags, { "vwt:model" = each.key })
}

# What every state machine needs whatever its definition: log delivery and X-Ray.
data "aws_iam_policy_document" "state_machine_base" {
  statement {
    sid = "DeliverExecutionLogs"
    actions = [
      "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
    ]
    resources = ["*"] # iam-star-ok: CloudWatch Logs vended log delivery APIs support no resource-level permissions
  }

  statement {
    sid       = "XRayTraces"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"]
    resources = ["*"] # iam-star-ok: X-Ray APIs support no resource-level permissions
  }
}

resource "aws_iam_role_policy" "state_machine_base" {
  for_each = var.models
  name     = "logs-and-traces"
  role     = aws_iam_role.state_machine[each.key].id
  policy   = data.aws_iam_policy_document.state_machine_base.json
}

# The rendered policy: exactly what the rendered definition calls (derived by vwt-deploy).
resource "aws_iam_role_policy" "state_machine" {
  for_each = { for model, sm in var.state_machines : model => sm if contains(keys(var.models), model) }
  name     = "pipeline"
  role     = aws_iam_role.state_machine[each.key].id
  policy   = templatefile(each.value.policy_path, local.template_vars)
}

resource "aws_cloudwatch_log_group" "state_machine" {
  for_each          = var.models
  name              = "/aws/vendedlogs/states/${local.names[each.key].state_machine}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = merge(var.tags, { "vwt:model" = each.key })
}

resource "aws_sfn_state_machine" "this" {
  for_each   = var.models
  name       = local.names[each.key].state_machine
  type       = "STANDARD"
  role_arn   = aws_iam_role.state_machine[each.key].arn
  definition = local.definitions[each.key]

  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.state_machine[each.key].arn}:*"
    include_execution_data = false # executions carry data locations and metrics, never player data in logs
    level                  = "ALL"
  }

  tracing_configuration {
    enabled = true
  }

  tags = merge(var.tags, { "vwt:model" = each.key })

  depends_on = [aws_iam_role_policy.state_machine_base, aws_iam_role_policy.state_machine, aws_lambda_function.this]
}

# ---------------------------------------------------------------- one run at a time per model

# The run of each model that may change its endpoint (templates/steps/claim.j2): train, tune and deploy runs
# claim their model with a conditional write, so of two runs started together one goes on and the other ends
# at once naming it (DynamoDB Developer Guide, "Condition expressions"; the semaphore pattern of AWS's Step
# Functions concurrency-control sample). One small item per model; reads are strongly consistent.
resource "aws_dynamodb_table" "runs" {
  #checkov:skip=CKV_AWS_28:the table holds only which execution last claimed each model; an empty or lost table lets the next run claim the model, so there is nothing to restore
  name         = "${var.name_prefix}-runs" # vwt_deploy.config Environment.runs_table_name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "model"

  attribute {
    name = "model"
    type = "S"
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  tags = var.tags
}

# ---------------------------------------------------------------- schedules (EventBridge)

data "aws_iam_policy_document" "events_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "events" {
  for_each           = var.models
  name               = local.names[each.key].events_role
  description        = "The retraining schedule (and approvals) of ${each.key}: starts its state machine, nothing else"
  assume_role_policy = data.aws_iam_policy_document.events_assume.json
  tags               = merge(var.tags, { "vwt:model" = each.key })
}

data "aws_iam_policy_document" "events" {
  for_each = var.models
  statement {
    sid       = "StartThisStateMachineOnly"
    actions   = ["states:StartExecution"]
    resources = [aws_sfn_state_machine.this[each.key].arn]
  }
}

resource "aws_iam_role_policy" "events" {
  for_each = var.models
  name     = "start-retraining"
  role     = aws_iam_role.events[each.key].id
  policy   = data.aws_iam_policy_document.events[each.key].json
}

resource "aws_cloudwatch_event_rule" "schedule" {
  for_each            = var.models
  name                = local.names[each.key].events_role
  description         = "Retrain ${each.key} (${each.value.schedule_mode})"
  schedule_expression = each.value.schedule_expression
  state               = each.value.schedule_enabled ? "ENABLED" : "DISABLED"
  tags                = merge(var.tags, { "vwt:model" = each.key })
}

resource "aws_cloudwatch_event_target" "schedule" {
  for_each  = var.models
  rule      = aws_cloudwatch_event_rule.schedule[each.key].name
  target_id = "retraining"
  arn       = aws_sfn_state_machine.this[each.key].arn
  role_arn  = aws_iam_role.events[each.key].arn
  input     = jsonencode({ model = each.key, mode = each.value.schedule_mode })
}

# The drift check: the same state machine in mode drift, on its own schedule (daily by default).
resource "aws_cloudwatch_event_rule" "drift" {
  for_each            = var.models
  name                = local.names[each.key].drift_rule
  description         = "Check the drift of ${each.key}'s players against its training baseline"
  schedule_expression = each.value.drift_expression
  state               = each.value.drift_enabled ? "ENABLED" : "DISABLED"
  tags                = merge(var.tags, { "vwt:model" = each.key })
}

resource "aws_cloudwatch_event_target" "drift" {
  for_each  = var.models
  rule      = aws_cloudwatch_event_rule.drift[each.key].name
  target_id = "drift"
  arn       = aws_sfn_state_machine.this[each.key].arn
  role_arn  = aws_iam_role.events[each.key].arn
  input     = jsonencode({ model = each.key, mode = "drift" })
}

# Batch scoring: the same state machine in mode score, on its own schedule (nightly by default).
resource "aws_cloudwatch_event_rule" "scoring" {
  for_each            = var.models
  name                = local.names[each.key].scoring_rule
  description         = "Score every player of ${each.key} (batch transform)"
  schedule_expression = each.value.scoring_expression
  state               = each.value.scoring_enabled ? "ENABLED" : "DISABLED"
  tags                = merge(var.tags, { "vwt:model" = each.key })
}

resource "aws_cloudwatch_event_target" "scoring" {
  for_each  = var.models
  rule      = aws_cloudwatch_event_rule.scoring[each.key].name
  target_id = "scoring"
  arn       = aws_sfn_state_machine.this[each.key].arn
  role_arn  = aws_iam_role.events[each.key].arn
  input     = jsonencode({ model = each.key, mode = "score" })
}

# ---------------------------------------------------------------- the model registry (SageMaker Model Registry)

# One model package group per model. Every completed training or tuning run registers a version in it (the state
# machine's Register* states): Approved or PendingManualApproval when the gate passed, Rejected when it did not.
resource "aws_sagemaker_model_package_group" "this" {
  for_each                 = var.models
  model_package_group_name = each.value.model_package_group
  # the description forces a new group (the provider's schema: ForceNew), and a group holding versions cannot be
  # deleted: nothing that may change (the approval mode) belongs in it
  model_package_group_description = "Versions of ${each.key}, one per completed retraining run"
  tags                            = merge(var.tags, { "vwt:model" = each.key })
}

# Manual approval: the approval of a version (UpdateModelPackage to Approved, `vwt-deploy models approve`) makes
# SageMaker send "SageMaker Model Package State Change" to the default bus (Developer Guide, "Events that Amazon
# SageMaker AI sends to Amazon EventBridge", model package state change), and this rule starts the deployment of
# that version. With auto approval the pipeline deploys itself, and no rule exists (it would deploy twice).
resource "aws_cloudwatch_event_rule" "approved" {
  for_each    = var.approval == "manual" ? var.models : {}
  name        = local.names[each.key].approved_rule
  description = "Deploy ${each.key} when a person approves a version of ${each.value.model_package_group}"
  event_pattern = jsonencode({
    source        = ["aws.sagemaker"]
    "detail-type" = ["SageMaker Model Package State Change"]
    detail = {
      ModelPackageGroupName = [each.value.model_package_group]
      ModelApprovalStatus   = ["Approved"]
    }
  })
  tags = merge(var.tags, { "vwt:model" = each.key })
}

resource "aws_cloudwatch_event_target" "approved" {
  for_each  = aws_cloudwatch_event_rule.approved
  rule      = each.value.name
  target_id = "deploy"
  arn       = aws_sfn_state_machine.this[each.key].arn
  role_arn  = aws_iam_role.events[each.key].arn
  # the placeholder in quotes: the ARN is inserted into the JSON string (EventBridge API reference, InputTransformer)
  input_transformer {
    input_paths    = { package = "$.detail.ModelPackageArn" }
    input_template = "{\"model\": \"${each.key}\", \"mode\": \"deploy\", \"model_package_arn\": \"<package>\"}"
  }
}
