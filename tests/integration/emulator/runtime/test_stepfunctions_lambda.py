"""Step Functions' lambda:invoke (moto's interpreter) runs the pipeline's real Lambda from the project's package."""

from __future__ import annotations

import json
import time

import pytest

from tests.helpers import REPO
from vwt_deploy.build.catalogue import catalogue_bytes
from vwt_deploy.build.package import build_zip
from vwt_deploy.config import load

SIZING = [
    {"max_gb": 1, "instance_type": "ml.m5.large", "instance_count": 1, "volume_gb": 30},
    {"max_gb": None, "instance_type": "ml.m5.xlarge", "instance_count": 2, "volume_gb": 100},
]


@pytest.fixture(scope="module")
def machine(emulator_client, role):
    lam, sfn, s3 = emulator_client("lambda"), emulator_client("stepfunctions"), emulator_client("s3")
    package = build_zip(REPO / "lambdas", catalogue_bytes(load("local", REPO)))
    fn = lam.create_function(
        FunctionName="vwt-local-size",
        Runtime="python3.12",
        Role=role,
        Handler="pipeline.size.handler",
        Code={"ZipFile": package},
        Timeout=60,
    )["FunctionArn"]
    s3.create_bucket(Bucket="sized-data", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_object(Bucket="sized-data", Key="training/part-0.csv", Body=b"a,b,label\n1,2,0\n3,4,1\n5,6,0\n")
    definition = {
        "StartAt": "Size",
        "States": {
            "Size": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": fn, "Payload.$": "$"},
                "ResultSelector": {"size.$": "$.Payload"},
                "ResultPath": "$.result",
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}],
                "End": True,
            },
            "Failed": {"Type": "Fail", "Error": "SizingFailed", "CausePath": "$.error.Cause"},
        },
    }
    return sfn, sfn.create_state_machine(name="size-only", definition=json.dumps(definition), roleArn=role)[
        "stateMachineArn"
    ]


def _run(sfn, arn: str, payload: dict) -> dict:
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(payload))["executionArn"]
    for _ in range(600):
        described = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.1)
    raise AssertionError(f"execution still running: {described}")


def test_the_size_lambda_runs_in_an_execution(machine):
    sfn, arn = machine
    done = _run(sfn, arn, {"bucket": "sized-data", "prefix": "training/", "sizing": SIZING})
    assert done["status"] == "SUCCEEDED", done
    size = json.loads(done["output"])["result"]["size"]
    assert size["rows"] == 3 and size["objects"] == 1 and size["instance_type"] == "ml.m5.large"


def test_a_lambda_error_is_caught_by_the_execution(machine):
    sfn, arn = machine
    done = _run(sfn, arn, {"bucket": "sized-data", "prefix": "nothing-here/", "sizing": SIZING})
    assert done["status"] == "FAILED" and done["error"] == "SizingFailed"
    assert "NoTrainingData" in done["cause"] and "no training data under s3://sized-data/nothing-here/" in done["cause"]
