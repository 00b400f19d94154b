# The whole root configuration planned with a mocked AWS provider: every module wired together.
# Its variables come from the command line: tests/terraform/test_terraform_test.py writes the
# dev environment's tfvars with vwt_deploy.tfvars (the real configuration) plus a real Lambda
# package and baseline artifacts, and passes them with -var-file.

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

run "dev_plans_every_module" {
  command = plan

  assert {
    condition     = length(output.data_bucket_names) == 2 && length(output.model_bucket_names) == 4
    error_message = "2 data buckets and 4 model buckets"
  }
  assert {
    condition     = length(output.protected_bucket_names) == 7 && contains(output.protected_bucket_names, output.results_bucket_name)
    error_message = "in dev the 2 data, 4 model buckets and the results bucket are guarded"
  }
  assert {
    condition     = output.endpoint_names["gb-marketing"] == "vwt-dev-gb-marketing" && length(output.endpoints_deployed) == 4
    error_message = "every model gets its endpoint from its baseline artifact"
  }
  assert {
    condition     = toset(keys(output.lambda_function_names)) == toset(["predict", "size", "label", "score-check", "score-publish", "drift"])
    error_message = "the six functions of the package"
  }
  assert {
    condition     = length(output.placeholder_state_machines) == 4
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
