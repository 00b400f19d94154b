# Monitoring: the admin topic, alarms on the API, the functions, the endpoints, the prediction
# Lambda's own metrics and the retraining executions, and one dashboard.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition
  actions    = [aws_sns_topic.admin.arn]
  functions  = toset(compact(var.function_names))

  endpoint_alarms = merge([for model, ep in var.endpoint_names : {
    "${model}/errors" = {
      model     = model, name = "${ep}-invocation-5xx", metric = "Invocation5XXErrors", statistic = "Sum", extended = null
      threshold = var.alarms.endpoint_errors_per_5min, endpoint = ep
      what      = "the endpoint of ${model} answers 5XX"
    }
    "${model}/latency" = {
      model     = model, name = "${ep}-model-latency-p99", metric = "ModelLatency", statistic = null, extended = "p99"
      threshold = var.alarms.model_latency_p99_ms * 1000, endpoint = ep # ModelLatency is in microseconds
      what      = "p99 model latency of ${model} above ${var.alarms.model_latency_p99_ms} ms"
    }
  }]...)

  # The prediction Lambda's embedded metrics (lambdas/predict/metrics.py): namespace VWT/Prediction,
  # dimensions [Environment, Model], Latency in milliseconds, the error metrics counts of requests
  # (1 per failed request, absent otherwise). Requests naming no catalogue model are counted under
  # Model "unknown": they get a client-error alarm of their own.
  prediction_namespace = "VWT/Prediction"
  scoring_namespace    = "VWT/Scoring"
  drift_namespace      = "VWT/Drift"
  prediction_models    = sort(keys(var.endpoint_names))
  prediction_alarms = merge(
    { for model in concat(local.prediction_models, ["unknown"]) : "${model}/client-errors" => {
      model     = model, metric = "ClientErrors", suffix = "client-errors", extended = null
      threshold = var.prediction_alarms.client_errors_per_5min, periods = 1, datapoints = 1
      what      = "${model}: ${var.prediction_alarms.client_errors_per_5min} or more rejected requests (4XX: invalid records, unknown model, wrong method) in 5 minutes"
    } },
    merge([for model in local.prediction_models : {
      "${model}/endpoint-errors" = {
        model     = model, metric = "EndpointErrors", suffix = "endpoint-errors", extended = null
        threshold = var.prediction_alarms.endpoint_errors_per_5min, periods = 1, datapoints = 1
        what      = "${model}: ${var.prediction_alarms.endpoint_errors_per_5min} or more requests failed at the endpoint (timeout, throttling, model error) in 5 minutes"
      }
      "${model}/publish-errors" = {
        model     = model, metric = "PublishErrors", suffix = "publish-errors", extended = null
        threshold = var.prediction_alarms.publish_errors_per_5min, periods = 1, datapoints = 1
        what      = "${model}: ${var.prediction_alarms.publish_errors_per_5min} or more requests could not publish to the consumer's topic in 5 minutes"
      }
      "${model}/latency" = {
        model     = model, metric = "Latency", suffix = "latency-p99", extended = "p99"
        threshold = var.prediction_alarms.latency_p99_ms, periods = 3, datapoints = 2
        what      = "${model}: p99 prediction latency above ${var.prediction_alarms.latency_p99_ms} ms in 2 of 3 5-minute periods"
      }
    }]...),
  )

  execution_alarms = merge([for model, arn in var.state_machine_arns : {
    "${model}/failed"    = { model = model, arn = arn, metric = "ExecutionsFailed", what = "failed" }
    "${model}/timed-out" = { model = model, arn = arn, metric = "ExecutionsTimedOut", what = "timed out" }
  }]...)
}

# ---------------------------------------------------------------- the admin topic

resource "aws_sns_topic" "admin" {
  name              = "${var.name_prefix}-admin"
  display_name      = "${var.name_prefix} admin"
  kms_master_key_id = var.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "admin" {
  statement {
    sid     = "ThisAccount"
    actions = ["sns:Publish", "sns:Subscribe", "sns:GetTopicAttributes", "sns:ListSubscriptionsByTopic"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
    resources = [aws_sns_topic.admin.arn]
  }

  statement {
    sid     = "CloudWatchAlarmsOfThisAccount"
    actions = ["sns:Publish"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    resources = [aws_sns_topic.admin.arn]
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "admin" {
  arn    = aws_sns_topic.admin.arn
  policy = data.aws_iam_policy_document.admin.json
}

resource "aws_sns_topic_subscription" "email" {
  count     = var.admin_email == null ? 0 : 1
  topic_arn = aws_sns_topic.admin.arn
  protocol  = "email"
  endpoint  = var.admin_email
}

# ---------------------------------------------------------------- the prediction API

resource "aws_cloudwatch_metric_alarm" "api_5xx" {
  alarm_name          = "${var.api_name}-5xx"
  alarm_description   = "The prediction API answers 5XX (more than ${var.alarms.api_5xx_per_5min} in 5 minutes)"
  namespace           = "AWS/ApiGateway"
  metric_name         = "5XXError"
  dimensions          = { ApiName = var.api_name, Stage = var.stage_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.alarms.api_5xx_per_5min
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "api_latency" {
  alarm_name          = "${var.api_name}-latency-p99"
  alarm_description   = "p99 latency of the prediction API above ${var.alarms.api_latency_p99_ms} ms"
  namespace           = "AWS/ApiGateway"
  metric_name         = "Latency"
  dimensions          = { ApiName = var.api_name, Stage = var.stage_name }
  extended_statistic  = "p99"
  period              = 300
  evaluation_periods  = 2
  threshold           = var.alarms.api_latency_p99_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

# ---------------------------------------------------------------- functions

resource "aws_cloudwatch_metric_alarm" "lambda_errors" {
  for_each            = local.functions
  alarm_name          = "${each.key}-errors"
  alarm_description   = "${each.key} failed (more than ${var.alarms.lambda_errors_per_5min} errors in 5 minutes)"
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = each.key }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.alarms.lambda_errors_per_5min
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "lambda_throttles" {
  for_each            = local.functions
  alarm_name          = "${each.key}-throttles"
  alarm_description   = "${each.key} is throttled (${var.alarms.lambda_throttles_per_5min} or more in 5 minutes)"
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = each.key }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.alarms.lambda_throttles_per_5min
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

# ---------------------------------------------------------------- endpoints (also the blue/green rollback alarms)

resource "aws_cloudwatch_metric_alarm" "endpoint" {
  for_each            = local.endpoint_alarms
  alarm_name          = each.value.name
  alarm_description   = each.value.what
  namespace           = "AWS/SageMaker"
  metric_name         = each.value.metric
  dimensions          = { EndpointName = each.value.endpoint, VariantName = var.variant_name }
  statistic           = each.value.statistic
  extended_statistic  = each.value.extended
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 2
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = merge(var.tags, { "vwt:model" = each.value.model })
}

# ---------------------------------------------------------------- the prediction Lambda's own metrics

# Missing data is "not breaching": the Lambda writes an error metric only on a failed request, and
# no metric at all without traffic, so a period without data means nothing failed.
resource "aws_cloudwatch_metric_alarm" "prediction" {
  for_each            = local.prediction_alarms
  alarm_name          = "${var.name_prefix}-predict-${each.value.model}-${each.value.suffix}"
  alarm_description   = each.value.what
  namespace           = local.prediction_namespace
  metric_name         = each.value.metric
  dimensions          = { Environment = var.environment, Model = each.value.model }
  statistic           = each.value.extended == null ? "Sum" : null
  extended_statistic  = each.value.extended
  unit                = each.value.metric == "Latency" ? "Milliseconds" : "Count"
  period              = 300
  evaluation_periods  = each.value.periods
  datapoints_to_alarm = each.value.datapoints
  threshold           = each.value.threshold
  comparison_operator = each.value.extended == null ? "GreaterThanOrEqualToThreshold" : "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = merge(var.tags, { "vwt:model" = each.value.model })
}

# ---------------------------------------------------------------- drift

# The drift check publishes the largest feature PSI of each run (lambdas/pipeline/drift.py, namespace VWT/Drift).
# Missing data is "not breaching": a run without captured players publishes nothing, so it never alarms.
resource "aws_cloudwatch_metric_alarm" "drift" {
  for_each            = var.drift_thresholds
  alarm_name          = "${var.name_prefix}-${each.key}-drift"
  alarm_description   = "The players ${each.key} scores have drifted from its training data: a feature's population stability index reached ${each.value} (vwt-deploy status; retrain, or check the data pipeline)"
  namespace           = local.drift_namespace
  metric_name         = "MaxFeaturePSI"
  dimensions          = { Environment = var.environment, Model = each.key }
  statistic           = "Maximum"
  period              = 86400
  evaluation_periods  = 1
  threshold           = each.value
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = merge(var.tags, { "vwt:model" = each.key })
}

# ---------------------------------------------------------------- retraining executions

resource "aws_cloudwatch_metric_alarm" "executions" {
  for_each            = local.execution_alarms
  alarm_name          = "${var.name_prefix}-${each.value.model}-retraining-${each.value.metric == "ExecutionsFailed" ? "failed" : "timed-out"}"
  alarm_description   = "A retraining execution of ${each.value.model} ${each.value.what}"
  namespace           = "AWS/States"
  metric_name         = each.value.metric
  dimensions          = { StateMachineArn = each.value.arn }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  tags                = merge(var.tags, { "vwt:model" = each.value.model })
}

# ---------------------------------------------------------------- consumers' dead letters

resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  for_each            = var.dead_letter_queue_names
  alarm_name          = "${each.value}-messages"
  alarm_description   = "Messages of the ${each.key} feed could not be delivered (dead-letter queue not empty)"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  tags                = var.tags
}

# ---------------------------------------------------------------- dashboard

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name_prefix
  dashboard_body = jsonencode({
    widgets = concat(
      [
        {
          type = "metric", x = 0, y = 0, width = 12, height = 6
          properties = {
            title  = "Prediction API: requests and errors"
            region = local.region
            stat   = "Sum"
            period = 300
            metrics = [
              ["AWS/ApiGateway", "Count", "ApiName", var.api_name, "Stage", var.stage_name],
              [".", "4XXError", ".", ".", ".", "."],
              [".", "5XXError", ".", ".", ".", "."],
            ]
          }
        },
        {
          type = "metric", x = 12, y = 0, width = 12, height = 6
          properties = {
            title  = "Prediction API: latency (ms)"
            region = local.region
            period = 300
            metrics = [
              ["AWS/ApiGateway", "Latency", "ApiName", var.api_name, "Stage", var.stage_name, { stat = "p50" }],
              ["...", { stat = "p99" }],
              [".", "IntegrationLatency", ".", ".", ".", ".", { stat = "p99" }],
            ]
          }
        },
        {
          type = "metric", x = 0, y = 6, width = 12, height = 6
          properties = {
            title   = "Functions: errors and throttles"
            region  = local.region
            stat    = "Sum"
            period  = 300
            metrics = concat([for f in local.functions : ["AWS/Lambda", "Errors", "FunctionName", f]], [for f in local.functions : ["AWS/Lambda", "Throttles", "FunctionName", f]])
          }
        },
        {
          type = "metric", x = 12, y = 6, width = 12, height = 6
          properties = {
            title   = "Retraining executions"
            region  = local.region
            stat    = "Sum"
            period  = 3600
            metrics = flatten([for model, arn in var.state_machine_arns : [for m in ["ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut"] : [["AWS/States", m, "StateMachineArn", arn, { label = "${model} ${m}" }]]]])
          }
        },
      ],
      [for i, model in sort(keys(var.endpoint_names)) : {
        type = "metric", x = 12 * (i % 2), y = 12 + 6 * floor(i / 2), width = 12, height = 6
        properties = {
          title  = "Endpoint ${model}"
          region = local.region
          period = 300
          metrics = [
            ["AWS/SageMaker", "Invocations", "EndpointName", var.endpoint_names[model], "VariantName", var.variant_name, { stat = "Sum" }],
            [".", "Invocation5XXErrors", ".", ".", ".", ".", { stat = "Sum" }],
            [".", "ModelLatency", ".", ".", ".", ".", { stat = "p99", yAxis = "right" }],
          ]
        }
      }],
      [for i, model in local.prediction_models : {
        type = "metric", x = 12 * (i % 2), y = 12 + 6 * ceil(length(local.prediction_models) / 2) + 6 * floor(i / 2), width = 12, height = 6
        properties = {
          title  = "Predictions ${model}: requests, errors (Sum) and latency (ms)"
          region = local.region
          period = 300
          metrics = [
            [local.prediction_namespace, "Requests", "Environment", var.environment, "Model", model, { stat = "Sum" }],
            [".", "ClientErrors", ".", ".", ".", ".", { stat = "Sum" }],
            [".", "EndpointErrors", ".", ".", ".", ".", { stat = "Sum" }],
            [".", "PublishErrors", ".", ".", ".", ".", { stat = "Sum" }],
            [".", "Latency", ".", ".", ".", ".", { stat = "p99", yAxis = "right" }],
            [".", "EndpointLatency", ".", ".", ".", ".", { stat = "p99", yAxis = "right" }],
          ]
        }
      }],
      [{
        type = "metric", x = 0, y = 12 + 12 * ceil(length(local.prediction_models) / 2), width = 12, height = 6
        properties = {
          title   = "Predictions naming no model: client errors"
          region  = local.region
          stat    = "Sum"
          period  = 300
          metrics = [[local.prediction_namespace, "ClientErrors", "Environment", var.environment, "Model", "unknown"]]
        }
        }, {
        # batch scoring's embedded metrics (lambdas/pipeline/score.py): per model, the players scored and the count of
        # each risk group; a search expression, so every risk group of the catalogue appears without listing it here
        type = "metric", x = 12, y = 12 + 12 * ceil(length(local.prediction_models) / 2), width = 12, height = 6
        properties = {
          title  = "Batch scoring: players scored and per risk group (per run)"
          region = local.region
          period = 86400
          stat   = "Sum"
          metrics = [[{
            expression = "SEARCH('{${local.scoring_namespace},Environment,Model} Environment=\"${var.environment}\"', 'Sum', 86400)"
            id         = "scoring"
            label      = ""
          }]]
        }
        }, {
        type = "metric", x = 0, y = 18 + 12 * ceil(length(local.prediction_models) / 2), width = 24, height = 6
        properties = {
          title  = "Drift: largest feature PSI per model (the alarms' thresholds are per model)"
          region = local.region
          period = 86400
          stat   = "Maximum"
          metrics = [for model in sort(keys(var.drift_thresholds)) :
          [local.drift_namespace, "MaxFeaturePSI", "Environment", var.environment, "Model", model]]
        }
      }],
      # the WAF web ACL's requests per outcome, all rules together (AWS WAF Developer Guide, "AWS WAF metrics and
      # dimensions": AWS/WAFV2, dimensions WebACL, Region, Rule = ALL)
      var.waf_web_acl_name == null ? [] : [{
        type = "metric", x = 0, y = 24 + 12 * ceil(length(local.prediction_models) / 2), width = 24, height = 6
        properties = {
          title  = "WAF: blocked, counted and allowed requests"
          region = local.region
          stat   = "Sum"
          period = 300
          metrics = [for m in ["BlockedRequests", "CountedRequests", "AllowedRequests"] :
          ["AWS/WAFV2", m, "WebACL", var.waf_web_acl_name, "Region", local.region, "Rule", "ALL"]]
        }
      }],
    )
  })
}
