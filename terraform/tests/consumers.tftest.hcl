# The consumers module planned with a mocked AWS provider: one queue per operator, filtered on operator_id.

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
  kms_key_arn = "arn:aws:kms:eu-west-1:111111111111:key/00000000-0000-0000-0000-000000000000"
  operators   = { northbet = "NorthBet B.V.", "lucky-lane" = "Lucky Lane Ltd" }
}

run "each_operator_has_its_own_filtered_queue" {
  command = plan
  module {
    source = "./modules/consumers"
  }

  assert {
    condition     = toset(keys(aws_sqs_queue.this)) == toset(["intervention", "operator-northbet", "operator-lucky-lane"])
    error_message = "the intervention model and every operator must each have one queue"
  }
  assert {
    condition = (
      jsondecode(aws_sns_topic_subscription.this["operator-lucky-lane"].filter_policy) == { operator_id = ["lucky-lane"] } &&
      aws_sns_topic_subscription.this["operator-lucky-lane"].filter_policy_scope == "MessageAttributes" &&
      jsondecode(aws_sns_topic_subscription.this["operator-northbet"].filter_policy) == { operator_id = ["northbet"] }
    )
    error_message = "an operator's queue must take only its own operator_id from the operator topic"
  }
  assert {
    condition     = aws_sns_topic_subscription.this["intervention"].filter_policy == null && aws_sqs_queue.this["operator-northbet"].name == "vwt-dev-operator-northbet"
    error_message = "the intervention queue takes every risk event; operator queues are named by operator"
  }
  assert {
    condition     = aws_sqs_queue.dlq["operator-northbet"].kms_master_key_id == var.kms_key_arn && aws_sqs_queue.this["operator-northbet"].kms_master_key_id == var.kms_key_arn
    error_message = "every queue is encrypted with the environment's key"
  }
}

run "an_operator_id_that_cannot_name_a_queue_is_refused" {
  command = plan
  module {
    source = "./modules/consumers"
  }
  variables {
    operators = { "North_Bet" = "x" }
  }
  expect_failures = [var.operators]
}
