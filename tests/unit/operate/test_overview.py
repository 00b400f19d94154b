"""`vwt-deploy status`'s per-model overview, against moto: what serves, the last run of each kind, alarms in ALARM."""

from __future__ import annotations

import json
from types import SimpleNamespace

import boto3
import pytest

from tests.helpers import REPO
from vwt_deploy.config import load
from vwt_deploy.operate import overview

REGION = "eu-west-1"
ROLE = "arn:aws:iam::123456789012:role/sfn"
DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})


@pytest.fixture
def env():
    return load("local", REPO)


@pytest.fixture
def deployment(moto, env):
    clients = {}

    def client(service):
        if service not in clients:
            clients[service] = boto3.client(service, region_name=REGION)
        return clients[service]

    return SimpleNamespace(env=env, target=SimpleNamespace(client=client))


def _machine(sfn, model):
    return sfn.create_state_machine(name=f"vwt-local-{model}-retraining", definition=DEFINITION, roleArn=ROLE)[
        "stateMachineArn"
    ]


def _alarm(cloudwatch, name):
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        MetricName="Errors",
        Namespace="AWS/Lambda",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="test")


def test_each_model_shows_what_serves_its_last_runs_and_its_alarms(deployment, env):
    client = deployment.target.client
    sfn, ssm, cloudwatch = client("stepfunctions"), client("ssm"), client("cloudwatch")
    machines = {m.name: _machine(sfn, m.name) for m in env.catalogue.models}
    model = "gb-problem-gambling"
    ssm.put_parameter(
        Name=f"/vwt-local/current-model/{model}",
        Type="String",
        Value=json.dumps({"version": "3", "training_job": "vwt-local-gbpg-1a2b3c4d", "model_name": "m"}),
    )
    for i, mode in enumerate(("train", "score", "deploy", "score")):
        sfn.start_execution(
            stateMachineArn=machines[model], name=f"run-{i}", input=json.dumps({"model": model, "mode": mode})
        )
    _alarm(cloudwatch, f"vwt-local-{model}-invocation-5xx")
    _alarm(cloudwatch, f"vwt-local-predict-{model}-latency-p99")
    _alarm(cloudwatch, "vwt-local-predict-gb-marketing-client-errors")
    _alarm(cloudwatch, "vwt-local-predictions-5xx")  # the API's: no model's
    summary = overview.overview(deployment, {"state_machine_arns": machines})
    s = summary["models"][model]
    assert s["serving"] == {"version": "3", "training_job": "vwt-local-gbpg-1a2b3c4d", "model_name": "m"}
    assert s["last_training"]["mode"] == "train" and s["last_scoring"]["mode"] == "score"
    assert s["last_drift_check"] is None
    assert s["alarms"] == [f"vwt-local-{model}-invocation-5xx", f"vwt-local-predict-{model}-latency-p99"]
    assert summary["models"]["gb-marketing"]["alarms"] == ["vwt-local-predict-gb-marketing-client-errors"]
    assert summary["models"]["bid-problem-gambling"]["serving"] == {"version": None}
    assert summary["models"]["bid-problem-gambling"]["last_training"] is None
    text = "\n".join(overview.lines(summary))
    assert f"{model}: serving version 3 (training job vwt-local-gbpg-1a2b3c4d)" in text
    assert "last drift: never" in text and "environment alarms in ALARM: vwt-local-predictions-5xx" in text
    assert "bid-problem-gambling: serving unknown" in text
