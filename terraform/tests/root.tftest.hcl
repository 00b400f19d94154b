# The whole root configuration planned with a mocked AWS provider: every module wired together.
# lambda_package_path and initial_model_artifacts come from the command line (tests/terraform).

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
  environment         = "dev"
  region              = "eu-west-1"
  allowed_account_ids = ["111111111111"]
  name_prefix         = "vwt-dev"
  tags                = { environment = "dev", owner = "ml-platform", "managed-by" = "vwt-deploy" }
  log_retention_days  = 30
  log_bucket_name     = "vwt-dev-access-logs"
  data_buckets = {
    "before-initial-deposit" = "vwt-dev-data-before-initial-deposit"
    "gambling-behaviour"     = "vwt-dev-data-gambling-behaviour"
  }
  models = {
    "bid-problem-gambling" = {
      task                = "classification", data_bucket = "before-initial-deposit", data_bucket_name = "vwt-dev-data-before-initial-deposit"
      data_prefix         = "training/", model_bucket_name = "vwt-dev-model-bid-problem-gambling", endpoint_name = "vwt-dev-bid-problem-gambling"
      schedule_expression = "cron(0 3 ? * MON *)", schedule_mode = "train", schedule_enabled = true
    }
    "gb-problem-gambling" = {
      task                = "classification", data_bucket = "gambling-behaviour", data_bucket_name = "vwt-dev-data-gambling-behaviour"
      data_prefix         = "training/", model_bucket_name = "vwt-dev-model-gb-problem-gambling", endpoint_name = "vwt-dev-gb-problem-gambling"
      schedule_expression = "cron(0 2 * * ? *)", schedule_mode = "train", schedule_enabled = true
    }
    "gb-marketing" = {
      task                = "regression", data_bucket = "gambling-behaviour", data_bucket_name = "vwt-dev-data-gambling-behaviour"
      data_prefix         = "training/", model_bucket_name = "vwt-dev-model-gb-marketing", endpoint_name = "vwt-dev-gb-marketing"
      schedule_expression = "rate(7 days)", schedule_mode = "tune", schedule_enabled = true
    }
  }
  api = {
    throttle_rate_limit = 20, throttle_burst_limit = 40, quota_limit = 100000, quota_period = "DAY"
    max_records         = 1000, cors_allow_origins = ["https://app.example.com"]
  }
  endpoints = {
    instance_type                   = "ml.m5.large", initial_instance_count = 1, min_capacity = 1, max_capacity = 2
    target_invocations_per_instance = 1000
  }
  alarms = {
    api_5xx_per_5min         = 5, api_latency_p99_ms = 3000, lambda_errors_per_5min = 5, lambda_throttles_per_5min = 1
    endpoint_errors_per_5min = 5, model_latency_p99_ms = 1000
  }
}

run "dev_plans_every_module" {
  command = plan

  assert {
    condition     = length(output.data_bucket_names) == 2 && length(output.model_bucket_names) == 3
    error_message = "2 data buckets and 3 model buckets"
  }
  assert {
    condition     = length(output.protected_bucket_names) == 5
    error_message = "in dev the 5 data/model buckets are guarded"
  }
  assert {
    condition     = output.endpoint_names["gb-marketing"] == "vwt-dev-gb-marketing" && length(output.endpoints_deployed) == 3
    error_message = "every model gets its endpoint from its baseline artifact"
  }
  assert {
    condition     = toset(keys(output.lambda_function_names)) == toset(["predict", "size", "label"])
    error_message = "the three functions of the package"
  }
  assert {
    condition     = length(output.placeholder_state_machines) == 3
    error_message = "without rendered definitions the state machines are placeholders"
  }
}

run "local_is_disposable" {
  command = plan
  variables {
    environment         = "local"
    allowed_account_ids = []
    name_prefix         = "vwt-local"
  }

  assert {
    condition     = length(output.protected_bucket_names) == 0
    error_message = "local buckets are not guarded"
  }
}

run "no_artifacts_still_plans" {
  command = plan
  variables {
    lambda_package_path     = null
    initial_model_artifacts = {}
  }

  assert {
    condition     = length(output.lambda_function_names) == 0 && length(output.endpoints_deployed) == 0
    error_message = "validate and plan work without the tool's artifacts"
  }
}

run "bad_environment_is_refused" {
  command = plan
  variables {
    environment = "production"
  }
  expect_failures = [var.environment]
}
