"""`pipeline.drift.handler`: the drift check's two Lambda steps around its Processing job (templates/steps/drift.j2).

{"action": "capture", "bucket": "<model bucket>", "prefix": "data-capture/<endpoint>/", "since_hours": 24}
    -> {"objects": n, "message": str}: the endpoint's capture files written in the window. None: the run says
    so and publishes no metric, so nothing alarms.

{"action": "publish", "bucket": "<model bucket>", "key": "drift/<job>/drift.json", "model": M,
 "environment": E, "threshold": 0.25, "retrain": false, "state_machine": "<its ARN>"}
    -> {"status", "records", "max_feature_psi", "max_feature", "score_psi", "drifted", "retraining", "message"}
    Reads the job's result. When it compared players, publishes VWT/Drift metrics (MaxFeaturePSI, ScorePSI,
    Records; dimensions Environment, Model; and FeaturePSI per Feature) that the model's drift alarm watches;
    when the largest feature PSI is at or above the threshold and the catalogue asks for it, starts the
    retraining pipeline ({"model": M, "mode": "train"}).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import boto3

NAMESPACE = "VWT/Drift"


class InvalidEvent(Exception):
    """The event is not what the state machine sends."""


def captured_objects(s3, bucket: str, prefix: str, since: dt.datetime) -> int:
    count = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        count += sum(1 for o in page.get("Contents", []) if o["Size"] > 0 and o["LastModified"] >= since)
    return count


def capture(s3, event: dict, now: dt.datetime) -> dict[str, Any]:
    hours = float(event.get("since_hours") or 24)
    objects = captured_objects(s3, event["bucket"], event["prefix"], now - dt.timedelta(hours=hours))
    message = (
        f"{objects} capture file(s) of the last {hours:g} hours under s3://{event['bucket']}/{event['prefix']}"
        if objects
        else f"no captured requests in the last {hours:g} hours under s3://{event['bucket']}/{event['prefix']}: "
        "nothing to compare, no drift metric published (is the endpoint's data capture on, and is it asked?)"
    )
    return {"objects": objects, "message": message}


def _metrics(result: dict[str, Any], environment: str, model: str) -> list[dict[str, Any]]:
    dims = [{"Name": "Environment", "Value": environment}, {"Name": "Model", "Value": model}]
    data = [
        {"MetricName": "MaxFeaturePSI", "Dimensions": dims, "Value": float(result["max_feature_psi"]), "Unit": "None"},
        {"MetricName": "ScorePSI", "Dimensions": dims, "Value": float(result["score_psi"]), "Unit": "None"},
        {"MetricName": "Records", "Dimensions": dims, "Value": float(result["records"]), "Unit": "Count"},
    ]
    for feature, value in sorted((result.get("features") or {}).items()):
        data.append(
            {
                "MetricName": "FeaturePSI",
                "Dimensions": [*dims, {"Name": "Feature", "Value": feature}],
                "Value": float(value),
                "Unit": "None",
            }
        )
    return data


def publish(s3, cloudwatch, sfn, event: dict) -> dict[str, Any]:
    try:
        bucket, key, model = event["bucket"], event["key"], event["model"]
        environment, threshold = event["environment"], float(event["threshold"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidEvent(f"the event needs bucket, key, model, environment and threshold ({exc})") from None
    result = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    out: dict[str, Any] = {
        "status": result.get("status"),
        "records": int(result.get("records") or 0),
        "max_feature_psi": result.get("max_feature_psi"),
        "max_feature": result.get("max_feature"),
        "score_psi": result.get("score_psi"),
        "drifted": False,
        "retraining": None,
        "message": result.get("message") or "",
    }
    if result.get("status") != "checked":
        return out  # no data or no baseline: said so, nothing published, nothing alarms
    data = _metrics(result, environment, model)
    for i in range(0, len(data), 20):  # PutMetricData: at most 1,000 values; 20 keeps each request small
        cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=data[i : i + 20])
    out["drifted"] = float(result["max_feature_psi"]) >= threshold
    out["message"] = (
        f"largest feature PSI {result['max_feature_psi']} ({result['max_feature']}) over {result['records']} "
        f"captured players; threshold {threshold:g}"
    )
    if out["drifted"] and event.get("retrain"):
        started = sfn.start_execution(
            stateMachineArn=event["state_machine"], input=json.dumps({"model": model, "mode": "train"})
        )
        out["retraining"] = started["executionArn"]
        out["message"] += "; drifted: retraining started"
    elif out["drifted"]:
        out["message"] += "; drifted: the drift alarm tells the admin (retraining is not configured to start)"
    return out


def handler(event: dict, context: Any = None) -> dict[str, Any]:
    action = event.get("action") if isinstance(event, dict) else None
    if action == "capture":
        return capture(boto3.client("s3"), event, dt.datetime.now(dt.timezone.utc))
    if action == "publish":
        return publish(boto3.client("s3"), boto3.client("cloudwatch"), boto3.client("stepfunctions"), event)
    raise InvalidEvent(f"action must be capture or publish, got {action!r}")
