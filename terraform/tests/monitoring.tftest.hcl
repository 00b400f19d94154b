# The monitoring module planned with a mocked AWS provider: the alarms on the prediction Lambda's
# own metrics (VWT/Prediction) use its namespace, dimensions and units (lambdas/predict/metrics.py;
# tests/terraform/test_prediction_metrics.py checks the names against the Lambda's code).

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
  mock_resource "aws_sns_topic" {
    override_during = plan
    defaults        = { arn = "arn:aws:sns:eu-west-1:111111111111:vwt-dev-admin" }
  }
}

variables {
  name_prefix        = "vwt-dev"
  environment        = "dev"
  kms_key_arn        = "arn:aws:kms:eu-west-1:111111111111:key/00000000-0000-0000-0000-000000000000"
  api_name           = "vwt-dev-predict"
  stage_name         = "v1"
  function_names     = ["vwt-dev-predict"]
  endpoint_names     = { "gb-marketing" = "vwt-dev-gb-marketing", "gb-problem-gambling" = "vwt-dev-gb-problem-gambling" }
  state_machine_arns = { "gb-marketing" = "arn:aws:states:eu-west-1:111111111111:stateMachine:vwt-dev-gb-marketing" }
  alarms = {
    api_5xx_per_5min         = 5, api_latency_p99_ms = 3000, lambda_errors_per_5min = 5, lambda_throttles_per_5min = 1
    endpoint_errors_per_5min = 5, model_latency_p99_ms = 1000
  }
}

run "prediction_alarms_per_model" {
  command = plan
  module {
    source = "./modules/monitoring"
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.prediction) == 2 * 4 + 1
    error_message = "per model: client errors, endpoint errors, publish errors, latency; plus client errors of Model=unknown"
  }
  assert {
    condition = alltrue([for a in aws_cloudwatch_metric_alarm.prediction :
    a.namespace == "VWT/Prediction" && a.dimensions["Environment"] == "dev" && length(a.dimensions) == 2])
    error_message = "namespace VWT/Prediction, dimensions exactly Environment (the environment) and Model"
  }
  assert {
    condition = alltrue([for k, a in aws_cloudwatch_metric_alarm.prediction :
    a.dimensions["Model"] == split("/", k)[0]])
    error_message = "the Model dimension is the catalogue model name"
  }
  assert {
    condition = (
      aws_cloudwatch_metric_alarm.prediction["gb-marketing/latency"].extended_statistic == "p99"
      && aws_cloudwatch_metric_alarm.prediction["gb-marketing/latency"].statistic == null
      && aws_cloudwatch_metric_alarm.prediction["gb-marketing/latency"].unit == "Milliseconds"
      && aws_cloudwatch_metric_alarm.prediction["gb-marketing/latency"].threshold == 3000
      && aws_cloudwatch_metric_alarm.prediction["gb-marketing/latency"].datapoints_to_alarm == 2
    )
    error_message = "latency: p99 (extended_statistic, no statistic) in milliseconds, default 3000 ms, 2 of 3 periods"
  }
  assert {
    condition = (
      aws_cloudwatch_metric_alarm.prediction["gb-marketing/client-errors"].statistic == "Sum"
      && aws_cloudwatch_metric_alarm.prediction["gb-marketing/client-errors"].threshold == 25
      && aws_cloudwatch_metric_alarm.prediction["unknown/client-errors"].dimensions["Model"] == "unknown"
      && aws_cloudwatch_metric_alarm.prediction["gb-problem-gambling/endpoint-errors"].metric_name == "EndpointErrors"
      && aws_cloudwatch_metric_alarm.prediction["gb-problem-gambling/endpoint-errors"].unit == "Count"
    )
    error_message = "the error alarms sum counts per 5 minutes"
  }
  assert {
    condition = alltrue([for a in aws_cloudwatch_metric_alarm.prediction :
      a.treat_missing_data == "notBreaching" && a.period == 300
      && a.alarm_actions == toset(["arn:aws:sns:eu-west-1:111111111111:vwt-dev-admin"])
    && a.ok_actions == toset(["arn:aws:sns:eu-west-1:111111111111:vwt-dev-admin"])])
    error_message = "every prediction alarm notifies the admin topic on alarm and OK; no data is not breaching"
  }
  assert {
    condition     = length(output.prediction_alarm_names["unknown"]) == 1 && length(output.prediction_alarm_names["gb-marketing"]) == 4
    error_message = "prediction_alarm_names per model"
  }
}

run "prediction_thresholds_from_variables" {
  command = plan
  module {
    source = "./modules/monitoring"
  }
  variables {
    prediction_alarms = { client_errors_per_5min = 100, latency_p99_ms = 800 }
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.prediction["gb-marketing/client-errors"].threshold == 100
      && aws_cloudwatch_metric_alarm.prediction["gb-marketing/latency"].threshold == 800
      && aws_cloudwatch_metric_alarm.prediction["gb-marketing/endpoint-errors"].threshold == 5
    )
    error_message = "given thresholds are used, the others keep their defaults"
  }
}

run "prediction_threshold_below_one_is_refused" {
  command = plan
  module {
    source = "./modules/monitoring"
  }
  variables {
    prediction_alarms = { endpoint_errors_per_5min = 0 }
  }
  expect_failures = [var.prediction_alarms]
}
