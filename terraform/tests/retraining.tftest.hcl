# The retraining module planned with a mocked AWS provider.

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
    "bid-problem-gambling" = { schedule_expression = "cron(0 3 ? * MON *)", schedule_mode = "train", schedule_enabled = true, scoring_expression = "cron(0 2 * * ? *)", scoring_enabled = true, drift_expression = "cron(0 4 * * ? *)", drift_enabled = true, model_package_group = "vwt-dev-bid-problem-gambling" }
    "gb-problem-gambling"  = { schedule_expression = "cron(0 2 * * ? *)", schedule_mode = "train", schedule_enabled = false, scoring_expression = "cron(30 1 * * ? *)", scoring_enabled = false, drift_expression = "rate(1 day)", drift_enabled = false, model_package_group = "vwt-dev-gb-problem-gambling" }
    "gb-marketing"         = { schedule_expression = "rate(7 days)", schedule_mode = "tune", schedule_enabled = true, scoring_expression = "rate(1 day)", scoring_enabled = true, drift_expression = "cron(0 4 * * ? *)", drift_enabled = true, model_package_group = "vwt-dev-gb-marketing" }
  }
  scoring = {
    environment            = "dev"
    intervention_topic_arn = "arn:aws:sns:eu-west-1:111111111111:vwt-dev-intervention"
    operator_topic_arn     = "arn:aws:sns:eu-west-1:111111111111:vwt-dev-operator"
    results_bucket_name    = "vwt-dev-results"
  }
  template_vars = {
    account_id                     = "111111111111"
    region                         = "eu-west-1"
    name_prefix                    = "vwt-dev"
    sagemaker_role_arn             = "arn:aws:iam::111111111111:role/vwt-dev-sagemaker"
    image_uri                      = "111111111111.dkr.ecr.eu-west-1.amazonaws.com/vwt-dev-sklearn:abc123"
    kms_key_arn                    = "arn:aws:kms:eu-west-1:111111111111:key/00000000-0000-0000-0000-000000000000"
    admin_topic_arn                = "arn:aws:sns:eu-west-1:111111111111:vwt-dev-admin"
    current_model_parameter_prefix = "/vwt-dev/current-model"
  }
  data_bucket_names  = ["vwt-dev-data-before-initial-deposit", "vwt-dev-data-gambling-behaviour"]
  model_bucket_names = ["vwt-dev-model-bid-problem-gambling", "vwt-dev-model-gb-problem-gambling", "vwt-dev-model-gb-marketing"]
  kms_key_arn        = "arn:aws:kms:eu-west-1:111111111111:key/00000000-0000-0000-0000-000000000000"
}

run "one_schedule_per_model" {
  command = plan
  module {
    source = "./modules/retraining"
  }

  assert {
    condition     = length(aws_cloudwatch_event_rule.schedule) == 3 && length(aws_cloudwatch_event_target.schedule) == 3 && length(aws_sfn_state_machine.this) == 3
    error_message = "one state machine and one schedule (rule + target) per model"
  }
  assert {
    condition = alltrue([for m, r in aws_cloudwatch_event_rule.schedule :
      r.schedule_expression == var.models[m].schedule_expression && r.state == (var.models[m].schedule_enabled ? "ENABLED" : "DISABLED")
    ])
    error_message = "each schedule carries its model's expression and enabled flag"
  }
  assert {
    condition     = { for m, g in aws_sagemaker_model_package_group.this : m => g.model_package_group_name } == { for m, v in var.models : m => v.model_package_group }
    error_message = "each model has its own model package group"
  }
  assert {
    condition = alltrue([for m, r in aws_cloudwatch_event_rule.scoring :
      r.schedule_expression == var.models[m].scoring_expression && r.state == (var.models[m].scoring_enabled ? "ENABLED" : "DISABLED")
      && jsondecode(aws_cloudwatch_event_target.scoring[m].input) == { model = m, mode = "score" }
    ]) && length(aws_cloudwatch_event_rule.scoring) == 3
    error_message = "each model has a batch-scoring schedule starting its state machine in mode score"
  }
  assert {
    condition     = aws_lambda_function.this["score-publish"].environment[0].variables.VWT_OPERATOR_TOPIC_ARN == var.scoring.operator_topic_arn && aws_lambda_function.this["score-check"].handler == "pipeline.score.check_handler"
    error_message = "the scoring functions run their handlers with the topics they publish to"
  }
  assert {
    condition     = length(aws_cloudwatch_event_rule.approved) == 0
    error_message = "auto approval deploys in the pipeline: no approval rule (it would deploy twice)"
  }
  assert {
    condition = alltrue([for m, t in aws_cloudwatch_event_target.schedule :
      jsondecode(t.input) == { model = m, mode = var.models[m].schedule_mode }
    ])
    error_message = "each schedule's input names its model and mode"
  }
  assert {
    condition = alltrue([for sm in aws_sfn_state_machine.this :
      sm.logging_configuration[0].level == "ALL" && !sm.logging_configuration[0].include_execution_data && sm.tracing_configuration[0].enabled
    ])
    error_message = "state machines log (level ALL, no execution data) and trace with X-Ray"
  }
  assert {
    condition     = alltrue([for sm in aws_sfn_state_machine.this : jsondecode(sm.definition).States.NotRendered.Type == "Fail"]) && length(output.placeholder_models) == 3
    error_message = "without rendered definitions every model gets the failing placeholder"
  }
  assert {
    condition     = length(aws_lambda_function.this) == 5 && aws_lambda_function.this["size"].handler == "pipeline.size.handler" && aws_lambda_function.this["label"].handler == "pipeline.label.handler"
    error_message = "the size, label and scoring functions run from the package (-var lambda_package_path, given by tests/terraform)"
  }
}

run "rendered_definition_and_policy_are_filled" {
  command = plan
  module {
    source = "./modules/retraining"
  }
  variables {
    state_machines = {
      "gb-marketing" = {
        definition_path = "tests/fixtures/retraining.asl.json"
        policy_path     = "tests/fixtures/retraining.policy.json"
      }
    }
  }

  assert {
    condition     = jsondecode(aws_sfn_state_machine.this["gb-marketing"].definition).States.Size.Resource == "arn:aws:lambda:eu-west-1:111111111111:function:vwt-dev-pipeline-size"
    error_message = "the definition's placeholders are filled (size_function_arn)"
  }
  assert {
    condition     = jsondecode(aws_iam_role_policy.state_machine["gb-marketing"].policy).Statement[0].Resource == "arn:aws:iam::111111111111:role/vwt-dev-sagemaker"
    error_message = "the policy's placeholders are filled (sagemaker_role_arn)"
  }
  assert {
    condition     = output.placeholder_models == tolist(["bid-problem-gambling", "gb-problem-gambling"])
    error_message = "only the models without a rendered definition keep the placeholder"
  }
}

run "bad_schedule_is_refused" {
  command = plan
  module {
    source = "./modules/retraining"
  }
  variables {
    models = { "m" = { schedule_expression = "every day", schedule_mode = "train", schedule_enabled = true, scoring_expression = "rate(1 day)", scoring_enabled = true, drift_expression = "cron(0 4 * * ? *)", drift_enabled = true, model_package_group = "vwt-dev-m" } }
  }
  expect_failures = [var.models]
}

run "manual_approval_starts_the_deployment_from_the_registry_event" {
  command = plan
  module {
    source = "./modules/retraining"
  }
  variables {
    approval = "manual"
  }
  assert {
    condition = alltrue([for m, r in aws_cloudwatch_event_rule.approved : jsondecode(r.event_pattern) == {
      source        = ["aws.sagemaker"]
      "detail-type" = ["SageMaker Model Package State Change"]
      detail        = { ModelPackageGroupName = [var.models[m].model_package_group], ModelApprovalStatus = ["Approved"] }
    }]) && length(aws_cloudwatch_event_rule.approved) == length(var.models)
    error_message = "a rule per model matches its group's approvals only"
  }
  assert {
    condition = alltrue([for m, t in aws_cloudwatch_event_target.approved :
      jsondecode(replace(t.input_transformer[0].input_template, "<package>", "arn:x")) == { model = m, mode = "deploy", model_package_arn = "arn:x" }
    ])
    error_message = "the approval starts the model's state machine in deploy mode with the approved version"
  }
  assert {
    # the description forces a new group, and a group holding versions cannot be deleted: switching the approval
    # mode of a running environment must leave the groups as they are
    condition     = alltrue([for m, g in aws_sagemaker_model_package_group.this : g.model_package_group_description == "Versions of ${m}, one per completed retraining run"])
    error_message = "the groups do not depend on the approval mode"
  }
}

run "one_runs_table_claims_each_models_endpoint" {
  command = plan
  module {
    source = "./modules/retraining"
  }

  assert {
    condition     = aws_dynamodb_table.runs.name == "vwt-dev-runs" && aws_dynamodb_table.runs.hash_key == "model"
    error_message = "one runs table per environment, <name_prefix>-runs (vwt_deploy.config Environment.runs_table_name), keyed by model"
  }
  assert {
    condition     = aws_dynamodb_table.runs.billing_mode == "PAY_PER_REQUEST"
    error_message = "a handful of writes a day: on demand, no provisioned capacity to size"
  }
  assert {
    condition = one(aws_dynamodb_table.runs.server_side_encryption).enabled && (
      one(aws_dynamodb_table.runs.server_side_encryption).kms_key_arn == var.kms_key_arn
    )
    error_message = "the table is encrypted with the environment's key"
  }
}
