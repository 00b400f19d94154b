"""What an interrupted apply created but did not record is found by the plan's names (moto's AWS)."""

from __future__ import annotations

import json

import boto3

from tests.helpers import ACCOUNT, REGION
from vwt_deploy.deploy.adopt import find_orphans, find_unrecorded, has_prior_state

ASSUME = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)
LOG = "/aws/lambda/vwt-dev-predict"


def _create(address: str, kind: str, **after) -> dict:
    return {"address": address, "mode": "managed", "type": kind, "change": {"actions": ["create"], "after": after}}


def _client(service: str):
    return boto3.client(service, region_name=REGION)


def test_only_existing_resources_of_known_kinds_are_found_with_their_import_ids(moto):
    _client("iam").create_role(RoleName="vwt-dev-gb-sfn", AssumeRolePolicyDocument=ASSUME)
    _client("s3").create_bucket(Bucket="vwt-dev-results", CreateBucketConfiguration={"LocationConstraint": REGION})
    _client("logs").create_log_group(logGroupName=LOG)
    _client("logs").create_log_group(logGroupName=LOG + "-other")
    url = _client("sqs").create_queue(QueueName="vwt-dev-intervention")["QueueUrl"]
    kms = _client("kms")
    key = kms.create_key(Description="vwt-dev: data")["KeyMetadata"]["KeyId"]
    kms.schedule_key_deletion(KeyId=kms.create_key(Description="vwt-dev: data")["KeyMetadata"]["KeyId"])
    kms.create_key(Description="vwt-staging: data")
    machine = _client("stepfunctions").create_state_machine(
        name="vwt-dev-gb-sm",
        definition=json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}),
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/vwt-dev-gb-sfn",
    )["stateMachineArn"]
    show = {
        "resource_changes": [
            _create('module.retraining.aws_iam_role.state_machine["gb"]', "aws_iam_role", name="vwt-dev-gb-sfn"),
            _create('module.storage.aws_s3_bucket.this["results"]', "aws_s3_bucket", bucket="vwt-dev-results"),
            _create('module.storage.aws_s3_bucket.this["model"]', "aws_s3_bucket", bucket="vwt-dev-model-gb"),
            _create("module.api.aws_cloudwatch_log_group.this", "aws_cloudwatch_log_group", name=LOG),
            _create("module.api.aws_cloudwatch_log_group.x", "aws_cloudwatch_log_group", name="/aws/lambda/vwt"),
            _create("module.consumers.aws_sqs_queue.intervention", "aws_sqs_queue", name="vwt-dev-intervention"),
            _create("module.retraining.aws_sfn_state_machine.gb", "aws_sfn_state_machine", name="vwt-dev-gb-sm"),
            _create("module.retraining.aws_dynamodb_table.runs", "aws_dynamodb_table", name="vwt-dev-runs"),
            _create("module.storage.aws_kms_key.this", "aws_kms_key", description="vwt-dev: data"),
            _create("module.x.aws_iam_role.unnamed", "aws_iam_role"),  # a name known only after apply
            {"address": "data.aws_region.this", "mode": "data", "type": "aws_region", "change": {"actions": ["read"]}},
        ]
    }  # fmt: skip
    found = find_unrecorded(show, _client, REGION, ACCOUNT)
    assert [(f.address, f.import_id) for f in found] == [
        ('module.retraining.aws_iam_role.state_machine["gb"]', "vwt-dev-gb-sfn"),
        ('module.storage.aws_s3_bucket.this["results"]', "vwt-dev-results"),
        ("module.api.aws_cloudwatch_log_group.this", LOG),  # the exact name only
        ("module.consumers.aws_sqs_queue.intervention", url),  # the queue's import ID is its URL
        ("module.retraining.aws_sfn_state_machine.gb", machine),  # and a state machine's its ARN
        ("module.storage.aws_kms_key.this", key),  # the one enabled key of that description, by its ID
    ]


def test_a_plan_from_an_empty_state_has_no_prior_state():
    assert not has_prior_state({"prior_state": {"values": {"root_module": {}}}})
    assert not has_prior_state({})
    assert has_prior_state({"prior_state": {"values": {"root_module": {"child_modules": [{"address": "module.x"}]}}}})


def test_two_keys_of_one_description_adopt_neither(moto):
    kms = _client("kms")
    for _ in range(2):
        kms.create_key(Description="vwt-dev: data")
    show = {
        "resource_changes": [_create("module.storage.aws_kms_key.this", "aws_kms_key", description="vwt-dev: data")]
    }
    assert find_unrecorded(show, _client, REGION, ACCOUNT) == []


def test_orphans_are_the_existing_ones_of_kinds_that_cannot_be_adopted(moto):
    gateway = _client("apigateway")
    old = gateway.create_rest_api(name="vwt-dev-predictions")["id"]
    gateway.create_rest_api(name="vwt-staging-predictions")
    show = {
        "resource_changes": [
            _create("module.api.aws_api_gateway_rest_api.this", "aws_api_gateway_rest_api", name="vwt-dev-predictions"),
            _create("module.api.aws_api_gateway_api_key.this", "aws_api_gateway_api_key", name="vwt-dev-op"),
        ]
    }
    orphans = find_orphans(show, _client)
    assert [(o.kind, o.name, o.id, o.delete) for o in orphans] == [
        ("aws_api_gateway_rest_api", "vwt-dev-predictions", old, f"aws apigateway delete-rest-api --rest-api-id {old}")
    ]
