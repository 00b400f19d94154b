# The sagemaker module planned with a mocked AWS provider.
# initial_model_artifacts comes from the command line (-var): tests/terraform builds baseline artifacts.

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
  name_prefix = "vwt-dev"
  models = {
    "bid-problem-gambling" = { endpoint_name = "vwt-dev-bid-problem-gambling", data_bucket_name = "vwt-dev-data-before-initial-deposit", data_prefix = "training/", model_bucket_name = "vwt-dev-model-bid-problem-gambling" }
    "gb-problem-gambling"  = { endpoint_name = "vwt-dev-gb-problem-gambling", data_bucket_name = "vwt-dev-data-gambling-behaviour", data_prefix = "training/", model_bucket_name = "vwt-dev-model-gb-problem-gambling" }
    "gb-marketing"         = { endpoint_name = "vwt-dev-gb-marketing", data_bucket_name = "vwt-dev-data-gambling-behaviour", data_prefix = "training/", model_bucket_name = "vwt-dev-model-gb-marketing" }
  }
  image_uri      = "111111111111.dkr.ecr.eu-west-1.amazonaws.com/vwt-dev-sklearn:abc123"
  repository_arn = "arn:aws:ecr:eu-west-1:111111111111:repository/vwt-dev-sklearn"
  kms_key_arn    = "arn:aws:kms:eu-west-1:111111111111:key/00000000-0000-0000-0000-000000000000"
  endpoint = {
    instance_type                   = "ml.m5.large", initial_instance_count = 1, min_capacity = 1, max_capacity = 3
    target_invocations_per_instance = 750
  }
  rollback_alarm_names = {
    "bid-problem-gambling" = ["vwt-dev-bid-problem-gambling-invocation-5xx", "vwt-dev-bid-problem-gambling-model-latency-p99"]
    "gb-problem-gambling"  = ["vwt-dev-gb-problem-gambling-invocation-5xx", "vwt-dev-gb-problem-gambling-model-latency-p99"]
    "gb-marketing"         = ["vwt-dev-gb-marketing-invocation-5xx", "vwt-dev-gb-marketing-model-latency-p99"]
  }
  current_model_parameter_prefix = "/vwt-dev/current-model"
}

run "an_endpoint_per_model_from_its_baseline" {
  command = plan
  module {
    source = "./modules/sagemaker"
  }

  assert {
    condition     = length(aws_sagemaker_endpoint.this) == 3 && length(aws_sagemaker_model.initial) == 3 && length(aws_s3_object.initial) == 3
    error_message = "every model with a baseline artifact (-var initial_model_artifacts, given by tests/terraform) gets model, config and endpoint"
  }
  assert {
    condition     = alltrue([for m in aws_sagemaker_model.initial : m.enable_network_isolation && m.primary_container[0].image == var.image_uri])
    error_message = "models run the image with network isolation"
  }
  assert {
    condition     = alltrue([for c in aws_sagemaker_endpoint_configuration.initial : c.kms_key_arn == var.kms_key_arn && c.production_variants[0].variant_name == "AllTraffic"])
    error_message = "endpoint configurations are encrypted with the KMS key"
  }
  assert {
    condition = alltrue([for m, e in aws_sagemaker_endpoint.this :
      e.deployment_config[0].blue_green_update_policy[0].traffic_routing_configuration[0].type == "ALL_AT_ONCE" &&
      toset([for a in e.deployment_config[0].auto_rollback_configuration[0].alarms : a.alarm_name]) == toset(var.rollback_alarm_names[m])
    ])
    error_message = "endpoints update blue/green and roll back on their alarms"
  }
  assert {
    condition = alltrue([for t in aws_appautoscaling_target.this : t.min_capacity == 1 && t.max_capacity == 3 && t.scalable_dimension == "sagemaker:variant:DesiredInstanceCount"]) && alltrue([
      for p in aws_appautoscaling_policy.this :
      p.target_tracking_scaling_policy_configuration[0].predefined_metric_specification[0].predefined_metric_type == "SageMakerVariantInvocationsPerInstance" &&
      p.target_tracking_scaling_policy_configuration[0].target_value == 750
    ])
    error_message = "auto scaling tracks invocations per instance within min/max capacity"
  }
  assert {
    condition     = jsondecode(aws_ssm_parameter.current_model["gb-marketing"].value).version == "baseline" && aws_ssm_parameter.current_model["gb-marketing"].name == "/vwt-dev/current-model/gb-marketing"
    error_message = "the current model is recorded where the pipeline reads it"
  }
}

run "no_artifact_no_endpoint_yet" {
  command = plan
  module {
    source = "./modules/sagemaker"
  }
  variables {
    initial_model_artifacts = {}
  }

  assert {
    condition     = length(aws_sagemaker_endpoint.this) == 0 && length(aws_appautoscaling_target.this) == 0
    error_message = "a model without an artifact gets no endpoint (nothing to serve yet)"
  }
  assert {
    condition     = alltrue([for p in aws_ssm_parameter.current_model : jsondecode(p.value).version == "none"])
    error_message = "its current-model parameter says there is none"
  }
}

run "bad_instance_type_is_refused" {
  command = plan
  module {
    source = "./modules/sagemaker"
  }
  variables {
    endpoint = {
      instance_type                   = "m5.large", initial_instance_count = 1, min_capacity = 3, max_capacity = 2
      target_invocations_per_instance = 750
    }
  }
  expect_failures = [var.endpoint]
}

run "endpoints_capture_a_share_of_requests_and_answers" {
  command = plan
  module {
    source = "./modules/sagemaker"
  }
  variables {
    endpoint = {
      instance_type                   = "ml.m5.large", initial_instance_count = 1, min_capacity = 1, max_capacity = 3
      target_invocations_per_instance = 750, capture_percentage = 25
    }
  }

  assert {
    condition = alltrue([for m, c in aws_sagemaker_endpoint_configuration.initial :
      c.data_capture_config[0].initial_sampling_percentage == 25 && c.data_capture_config[0].enable_capture
      && c.data_capture_config[0].destination_s3_uri == "s3://${var.models[m].model_bucket_name}/data-capture"
      && c.data_capture_config[0].kms_key_id == var.kms_key_arn
      && toset([for o in c.data_capture_config[0].capture_options : o.capture_mode]) == toset(["Input", "Output"])
    ])
    error_message = "every baseline endpoint configuration captures inputs and outputs into its model bucket, encrypted"
  }
  assert {
    condition     = alltrue([for m, g in aws_cloudwatch_log_group.endpoint : g.name == "/aws/sagemaker/Endpoints/${var.models[m].endpoint_name}" && g.kms_key_id == var.kms_key_arn])
    error_message = "each endpoint's log group exists before the endpoint, encrypted with the key"
  }
}
