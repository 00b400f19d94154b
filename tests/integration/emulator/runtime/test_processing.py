"""SageMaker Processing in the local runtime: CreateProcessingJob runs the project's image with the job's arguments
over /opt/ml/processing/ (the drift check, as the pipeline sends it), inputs downloaded and outputs uploaded with
the job's role, the container's exit message as ExitMessage."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest

from tests.helpers import ACCOUNT, REGION
from tests.helpers.container import FEATURES, capture_record, make_rows
from tests.helpers.stepfunctions import train_model

BUCKET = "vwt-processing-models"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/sagemaker"
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/vwt:1"


def wait(sm, name: str, limit: float = 180.0) -> dict:
    deadline = time.monotonic() + limit
    while (job := sm.describe_processing_job(ProcessingJobName=name))["ProcessingJobStatus"] in (
        "InProgress",
        "Stopping",
    ):
        assert time.monotonic() < deadline, "the processing job did not end"
        time.sleep(0.2)
    return job


@pytest.fixture(scope="module")
def artifact(emulator_client, training_data) -> str:
    """A model (with its drift baseline) trained by a training job on the emulator: its model.tar.gz."""
    sm, s3 = emulator_client("sagemaker"), emulator_client("s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    return train_model(sm, "px-train")


def drift_job(name: str, artifact: str, capture_prefix: str) -> dict:
    """CreateProcessingJob's arguments, as the drift check sends them."""
    return {
        "ProcessingJobName": name,
        "RoleArn": ROLE,
        "AppSpecification": {"ImageUri": IMAGE, "ContainerArguments": ["drift", "--since-hours", "24"]},
        "ProcessingInputs": [
            {
                "InputName": "model",
                "S3Input": {
                    "S3Uri": artifact,
                    "LocalPath": "/opt/ml/processing/model",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            },
            {
                "InputName": "capture",
                "S3Input": {
                    "S3Uri": f"s3://{BUCKET}/{capture_prefix}",
                    "LocalPath": "/opt/ml/processing/capture",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            },
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "drift",
                    "S3Output": {
                        "S3Uri": f"s3://{BUCKET}/drift/{name}/",
                        "LocalPath": "/opt/ml/processing/output",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
        "ProcessingResources": {
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 30}
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }


def test_the_drift_check_runs_and_uploads_its_result(emulator_client, artifact):
    sm, s3 = emulator_client("sagemaker"), emulator_client("s3")
    s3.put_object(
        Bucket=BUCKET,
        Key="data-capture/ep-a/AllTraffic/x.jsonl",
        Body=capture_record(
            make_rows(300, "classification", seed=4), [0.5] * 300, dt.datetime.now(dt.timezone.utc)
        ).encode(),
    )
    sm.create_processing_job(**drift_job("px-drift", artifact, "data-capture/ep-a/"))
    assert sm.describe_processing_job(ProcessingJobName="px-drift")["ProcessingJobStatus"] == "InProgress"
    job = wait(sm, "px-drift")
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    result = json.loads(s3.get_object(Bucket=BUCKET, Key="drift/px-drift/drift.json")["Body"].read())
    assert result["status"] == "checked" and result["records"] == 300
    assert set(result["features"]) == set(FEATURES)
    logs = emulator_client("logs").describe_log_streams(logGroupName="/aws/sagemaker/ProcessingJobs")["logStreams"]
    assert any(s["logStreamName"].startswith("px-drift/") for s in logs)


def test_a_failing_container_fails_the_job_with_its_exit_message(emulator_client, artifact):
    sm, s3 = emulator_client("sagemaker"), emulator_client("s3")
    s3.put_object(Bucket=BUCKET, Key="data-capture/ep-b/AllTraffic/x.jsonl", Body=b"not json\n")
    sm.create_processing_job(**drift_job("px-broken", artifact, "data-capture/ep-b/"))
    job = wait(sm, "px-broken")
    assert job["ProcessingJobStatus"] == "Failed"
    assert (
        job["FailureReason"].startswith("AlgorithmError: ")
        and "not a SageMaker data capture record" in job["FailureReason"]
    )
    assert "line 1: not a SageMaker data capture record" in job["ExitMessage"]
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="drift/px-broken/")


def test_an_input_with_no_objects_fails_the_job_and_says_where_it_looked(emulator_client, artifact):
    sm = emulator_client("sagemaker")
    sm.create_processing_job(**drift_job("px-empty", artifact, "data-capture/nobody/"))
    job = wait(sm, "px-empty")
    assert job["ProcessingJobStatus"] == "Failed"
    assert f'No S3 objects found under S3 URL "s3://{BUCKET}/data-capture/nobody/"' in job["FailureReason"]


def test_a_local_path_outside_opt_ml_processing_is_refused(emulator_client, artifact):
    sm = emulator_client("sagemaker")
    request = drift_job("px-path", artifact, "data-capture/ep-a/")
    request["ProcessingInputs"][0]["S3Input"]["LocalPath"] = "/tmp/model"
    sm.create_processing_job(**request)
    job = wait(sm, "px-path")
    assert job["ProcessingJobStatus"] == "Failed" and "must lie under /opt/ml/processing/" in job["FailureReason"]
