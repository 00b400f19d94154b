"""The calls each principal of the framework makes on AWS, and AWS's decision for each, from the deployed policies.

Read from the code that makes them: the pipeline's size and label functions (lambdas/pipeline/), the state
machine (templates/, the SageMaker, Lambda, SSM and SNS integrations), the SageMaker execution role (training
jobs read the data and the schema and write the model; endpoints pull the image and read the model; blue/green
deployments watch the rollback alarms), and the prediction function (lambdas/predict/). Each principal is found
the way AWS finds it, from the resource that runs it (a function's role, a state machine's role, a model's
execution role), and each decision is the emulator's IAM evaluator applied to the deployed identity policies
and the resource's own policy (bucket, key, topic), as AWS's policy evaluation logic decides it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vwt_deploy.emulator.iam.account import Account


@dataclass(frozen=True)
class Call:
    who: str  # a readable name of the principal
    role_arn: str
    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        return f"{self.who}: {self.action} on {self.resource}"


def _s3(bucket: str, key: str = "") -> str:
    return f"arn:aws:s3:::{bucket}" + (f"/{key}" if key else "")


def _via(service: str, region: str) -> tuple[tuple[str, str], ...]:
    return (("kms:ViaService", f"{service}.{region}.amazonaws.com"),)


def _key_calls(who: str, role: str, key: str, service: str, region: str, write: bool) -> list[Call]:
    """What a call on an encrypted S3 object or SNS topic costs at KMS, asked for with the caller's credentials."""
    actions = ["kms:Decrypt", "kms:GenerateDataKey"] if write else ["kms:Decrypt"]
    return [Call(who, role, action, key, _via(service, region)) for action in actions]


def pipeline_function_calls(client: Callable[[str], Any], outputs: dict, model: str, prefix: str) -> list[Call]:
    """The size function counts the data's rows; the label function copies it, labelled, to the model bucket."""
    region = outputs["kms_key_arn"].split(":")[3]
    data_bucket = outputs["data_bucket_names"][_data_bucket_key(outputs, model)]
    model_bucket = outputs["model_bucket_names"][model]
    key = outputs["kms_key_arn"]
    names = outputs["lambda_function_names"]
    calls: list[Call] = []
    for function in ("size", "label"):
        role = client("lambda").get_function(FunctionName=names[function])["Configuration"]["Role"]
        who = f"{function} function"
        calls += [
            Call(who, role, "s3:ListBucket", _s3(data_bucket)),
            Call(who, role, "s3:GetObject", _s3(data_bucket, f"{prefix}synthetic.csv")),
        ]
        calls += _key_calls(who, role, key, "s3", region, write=function == "label")
    label_role = client("lambda").get_function(FunctionName=names["label"])["Configuration"]["Role"]
    calls += [
        Call("label function", label_role, "s3:PutObject", _s3(model_bucket, "labelled/run-1/labelled.csv")),
        Call("label function", label_role, "s3:PutObject", _s3(model_bucket, "labeling/run-1/input/manifest")),
        Call(
            "label function",
            label_role,
            "s3:GetObject",
            _s3(model_bucket, "labeling/output/run-1/manifests/output/output.manifest"),
        ),
    ]
    return calls


def scoring_and_drift_calls(client: Callable[[str], Any], outputs: dict, model: str) -> list[Call]:
    """Batch scoring's check function reads the players to score; its publish function reads the transform's output,
    writes each operator's results file and publishes the events; the drift function lists the endpoint's capture,
    reads the check's result, publishes the PSI and may start the retraining pipeline (lambdas/pipeline/)."""
    region = outputs["kms_key_arn"].split(":")[3]
    data_bucket = outputs["data_bucket_names"][_data_bucket_key(outputs, model)]
    model_bucket = outputs["model_bucket_names"][model]
    key, names = outputs["kms_key_arn"], outputs["lambda_function_names"]

    def role_of(function: str) -> str:
        return client("lambda").get_function(FunctionName=names[function])["Configuration"]["Role"]

    check, publish, drift = role_of("score-check"), role_of("score-publish"), role_of("drift")
    calls = [
        Call("scoring check", check, "s3:ListBucket", _s3(data_bucket)),
        Call("scoring check", check, "s3:GetObject", _s3(data_bucket, f"scoring/{model}/northbet/players.csv")),
        Call("scoring publish", publish, "s3:ListBucket", _s3(model_bucket), (("s3:prefix", "scoring/job-1/"),)),
        Call("scoring publish", publish, "s3:GetObject", _s3(model_bucket, "scoring/job-1/northbet/players.csv.out")),
        Call(
            "scoring publish", publish, "s3:PutObject", _s3(outputs["results_bucket_name"], f"northbet/{model}/d.csv")
        ),
        Call("scoring publish", publish, "sns:Publish", outputs["intervention_topic_arn"]),
        Call("scoring publish", publish, "sns:Publish", outputs["operator_topic_arn"]),
        Call("drift", drift, "s3:ListBucket", _s3(model_bucket), (("s3:prefix", "data-capture/ep/"),)),
        Call("drift", drift, "s3:GetObject", _s3(model_bucket, "drift/job-1/drift.json")),
        Call("drift", drift, "cloudwatch:PutMetricData", "*", (("cloudwatch:namespace", "VWT/Drift"),)),
        Call("drift", drift, "states:StartExecution", outputs["state_machine_arns"][model]),
    ]
    calls += _key_calls("scoring check", check, key, "s3", region, write=False)
    calls += _key_calls("scoring publish", publish, key, "s3", region, write=True)
    calls += _key_calls("scoring publish", publish, key, "sns", region, write=True)
    calls += _key_calls("drift", drift, key, "s3", region, write=False)
    return calls


def _data_bucket_key(outputs: dict, model: str) -> str:
    """The catalogue key of the data bucket a model reads (the bucket names end with it)."""
    from vwt_deploy.config import load

    env = load(outputs["environment"], _repo())
    return env.catalogue.model(model).data_bucket


def _repo():
    from tests.helpers import REPO

    return REPO


def state_machine_calls(client: Callable[[str], Any], outputs: dict, model: str) -> list[Call]:
    """The retraining pipeline reports to the admin (never to the operators), on a topic encrypted with the key."""
    region = outputs["kms_key_arn"].split(":")[3]
    role = client("stepfunctions").describe_state_machine(stateMachineArn=outputs["state_machine_arns"][model])[
        "roleArn"
    ]
    who = f"state machine of {model}"
    calls = [
        Call(who, role, "sns:Publish", outputs["admin_topic_arn"]),
        Call(
            who,
            role,
            "iam:PassRole",
            outputs["sagemaker_role_arn"],
            (("iam:PassedToService", "sagemaker.amazonaws.com"),),
        ),
    ]
    calls += _key_calls(who, role, outputs["kms_key_arn"], "sns", region, write=True)
    return calls


def sagemaker_calls(client: Callable[[str], Any], outputs: dict, model: str, prefix: str) -> list[Call]:
    """What SageMaker does with the execution role: read the data and the schema, write the model, watch the
    endpoint's rollback alarms."""
    region = outputs["kms_key_arn"].split(":")[3]
    role = outputs["sagemaker_role_arn"]
    data_bucket = outputs["data_bucket_names"][_data_bucket_key(outputs, model)]
    model_bucket = outputs["model_bucket_names"][model]
    endpoint = outputs["endpoint_names"][model]
    alarms = [  # the endpoint's own alarms: its blue/green rollback alarms
        a
        for a in client("cloudwatch").describe_alarms(AlarmNamePrefix=endpoint)["MetricAlarms"]
        if {"Name": "EndpointName", "Value": endpoint} in a.get("Dimensions", [])
    ]
    assert alarms, f"{endpoint} has no rollback alarms"
    calls = [
        Call("SageMaker", role, "s3:GetObject", _s3(data_bucket, f"{prefix}synthetic.csv")),
        Call("SageMaker", role, "s3:GetObject", _s3(model_bucket, "schema/schema.json")),
        Call("SageMaker", role, "s3:PutObject", _s3(model_bucket, "training/job-1/output/model.tar.gz")),
        # batch scoring's transform job: the players in, the scores out; the drift check: the capture in, its result out
        Call("SageMaker", role, "s3:GetObject", _s3(data_bucket, f"scoring/{model}/northbet/players.csv")),
        Call("SageMaker", role, "s3:PutObject", _s3(model_bucket, "scoring/job-1/northbet/players.csv.out")),
        Call("SageMaker", role, "s3:GetObject", _s3(model_bucket, f"data-capture/{endpoint}/AllTraffic/x.jsonl")),
        Call("SageMaker", role, "s3:PutObject", _s3(model_bucket, "drift/job-1/drift.json")),
    ]
    calls += [Call("SageMaker", role, "cloudwatch:DescribeAlarms", a["AlarmArn"]) for a in alarms]
    calls += _key_calls("SageMaker", role, outputs["kms_key_arn"], "s3", region, write=True)
    return calls


def denied(client: Callable[[str], Any], calls: list[Call]) -> list[str]:
    """AWS's denial message for every call the deployed policies refuse (empty: every call is allowed)."""
    account = Account(lambda service, region=None: client(service))  # one region: the deployment's
    out = []
    for call in calls:
        decision = account.decide(call.role_arn, call.action, call.resource, dict(call.context))
        if not decision.allowed:
            out.append(f"{call}: {decision.message}")
    return out
