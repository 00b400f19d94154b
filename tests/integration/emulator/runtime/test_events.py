"""SageMaker's model-package state-change events on the emulator: sent on create and update, matched by the
default bus's rules, shaped by the target's InputTransformer, and started as the target's state machine."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from tests.helpers import ACCOUNT, REGION

ROLE = f"arn:aws:iam::{ACCOUNT}:role/events-test"


@pytest.fixture
def routed(emulator_client):
    """A package group, a state machine that echoes its input, and a rule for Approved versions of the group."""
    name = f"events-{uuid.uuid4().hex[:8]}"
    sm, sfn, events = emulator_client("sagemaker"), emulator_client("stepfunctions"), emulator_client("events")
    sm.create_model_package_group(ModelPackageGroupName=name)
    machine = sfn.create_state_machine(
        name=name,
        definition=json.dumps({"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}}),
        roleArn=ROLE,
    )["stateMachineArn"]
    pattern = {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Model Package State Change"],
        "detail": {"ModelPackageGroupName": [name], "ModelApprovalStatus": ["Approved"]},
    }
    events.put_rule(Name=name, EventPattern=json.dumps(pattern))
    events.put_targets(
        Rule=name,
        Targets=[
            {
                "Id": "deploy",
                "Arn": machine,
                "RoleArn": ROLE,
                "InputTransformer": {
                    "InputPathsMap": {"package": "$.detail.ModelPackageArn", "version": "$.detail.ModelPackageVersion"},
                    "InputTemplate": '{"mode": "deploy", "model_package_arn": "<package>", "version": <version>}',
                },
            }
        ],
    )
    yield name, sm, sfn, machine
    events.remove_targets(Rule=name, Ids=["deploy"])
    events.delete_rule(Name=name)


def register(sm, group: str, status: str, token: str | None = None) -> str:
    return sm.create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus=status,
        InferenceSpecification={
            "Containers": [{"Image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/vwt:1"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
        **({"ClientToken": token} if token else {}),
    )["ModelPackageArn"]


def inputs(sfn, machine: str, expected: int, wait: float = 10.0) -> list[dict]:
    """The inputs of the machine's executions once `expected` of them started (delivery is asynchronous)."""
    deadline = time.monotonic() + wait
    while True:
        executions = sfn.list_executions(stateMachineArn=machine)["executions"]
        if len(executions) >= expected or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    return [json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"]) for e in executions]


def test_an_approval_starts_the_target_with_the_transformed_input(routed):
    group, sm, sfn, machine = routed
    arn = register(sm, group, "PendingManualApproval")
    time.sleep(0.5)
    assert inputs(sfn, machine, 0) == []  # pending: the rule's pattern wants Approved
    sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    assert inputs(sfn, machine, 1) == [{"mode": "deploy", "model_package_arn": arn, "version": 1}]


def test_a_rejection_starts_nothing(routed):
    group, sm, sfn, machine = routed
    arn = register(sm, group, "PendingManualApproval")
    sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Rejected")
    time.sleep(0.5)
    assert inputs(sfn, machine, 0) == []


def test_a_version_registered_approved_is_sent_once_even_when_the_call_is_retried(routed):
    group, sm, sfn, machine = routed
    first = register(sm, group, "Approved", token="run-1")
    again = register(sm, group, "Approved", token="run-1")  # a retried call: the same version, no new event
    assert again == first
    time.sleep(0.5)
    assert inputs(sfn, machine, 2, wait=1.0) == [{"mode": "deploy", "model_package_arn": first, "version": 1}]
