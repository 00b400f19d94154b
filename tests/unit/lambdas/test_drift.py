"""The drift check's Lambda steps (pipeline/drift.py) against moto: find the capture, publish the PSI, retrain."""

from __future__ import annotations

import datetime as dt
import json

import boto3
import pytest
from pipeline import drift

REGION = "eu-west-1"
RESULT = {
    "status": "checked",
    "records": 800,
    "features": {"age": 0.31, "country": 0.02},
    "max_feature_psi": 0.31,
    "max_feature": "age",
    "score_psi": 0.12,
}


@pytest.fixture
def aws(moto):
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="models", CreateBucketConfiguration={"LocationConstraint": REGION})
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(
        name="vwt-local-m-retraining",
        definition=json.dumps({"StartAt": "D", "States": {"D": {"Type": "Succeed"}}}),
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )["stateMachineArn"]
    return {"s3": s3, "cloudwatch": boto3.client("cloudwatch", region_name=REGION), "sfn": sfn, "machine": machine}


def _publish_event(aws, **over):
    return {
        "action": "publish",
        "bucket": "models",
        "key": "drift/job-1/drift.json",
        "model": "m",
        "environment": "local",
        "threshold": 0.25,
        "retrain": False,
        "state_machine": aws["machine"],
        **over,
    }


def _values(cloudwatch, name):
    now = dt.datetime.now(dt.timezone.utc)
    stats = cloudwatch.get_metric_statistics(
        Namespace="VWT/Drift",
        MetricName=name,
        Dimensions=[{"Name": "Environment", "Value": "local"}, {"Name": "Model", "Value": "m"}],
        StartTime=now - dt.timedelta(hours=1),
        EndTime=now + dt.timedelta(minutes=5),
        Period=3600,
        Statistics=["Maximum"],
    )
    return [p["Maximum"] for p in stats["Datapoints"]]


def test_capture_counts_only_the_files_of_the_window(aws):
    s3 = aws["s3"]
    s3.put_object(Bucket="models", Key="data-capture/ep/AllTraffic/2026/11/29/10/a.jsonl", Body=b"{}\n")
    now = dt.datetime.now(dt.timezone.utc)
    event = {"bucket": "models", "prefix": "data-capture/ep/", "since_hours": 24}
    assert drift.capture(s3, event, now)["objects"] == 1
    later = drift.capture(s3, event, now + dt.timedelta(days=2))
    assert later["objects"] == 0 and "no captured requests in the last 24 hours" in later["message"]


def test_a_drifted_check_publishes_its_metrics_and_retrains_when_asked(aws):
    aws["s3"].put_object(Bucket="models", Key="drift/job-1/drift.json", Body=json.dumps(RESULT).encode())
    out = drift.publish(aws["s3"], aws["cloudwatch"], aws["sfn"], _publish_event(aws))
    assert out["drifted"] and out["retraining"] is None and "retraining is not configured" in out["message"]
    assert _values(aws["cloudwatch"], "MaxFeaturePSI") == [0.31]
    out = drift.publish(aws["s3"], aws["cloudwatch"], aws["sfn"], _publish_event(aws, retrain=True))
    started = aws["sfn"].describe_execution(executionArn=out["retraining"])
    assert json.loads(started["input"]) == {"model": "m", "mode": "train"}


def test_below_the_threshold_nothing_retrains(aws):
    aws["s3"].put_object(
        Bucket="models", Key="drift/job-1/drift.json", Body=json.dumps({**RESULT, "max_feature_psi": 0.05}).encode()
    )
    out = drift.publish(aws["s3"], aws["cloudwatch"], aws["sfn"], _publish_event(aws, retrain=True))
    assert not out["drifted"] and out["retraining"] is None
    assert aws["sfn"].list_executions(stateMachineArn=aws["machine"])["executions"] == []


@pytest.mark.parametrize("status", ["no_data", "no_baseline"])
def test_a_check_that_compared_nothing_publishes_nothing(aws, status):
    body = {"status": status, "records": 0, "message": "said so"}
    aws["s3"].put_object(Bucket="models", Key="drift/job-1/drift.json", Body=json.dumps(body).encode())
    out = drift.publish(aws["s3"], aws["cloudwatch"], aws["sfn"], _publish_event(aws, retrain=True))
    assert out["status"] == status and out["message"] == "said so" and not out["drifted"]
    assert _values(aws["cloudwatch"], "MaxFeaturePSI") == []


def test_an_unknown_action_is_refused():
    with pytest.raises(drift.InvalidEvent, match="action must be capture or publish"):
        drift.handler({"action": "guess"})
