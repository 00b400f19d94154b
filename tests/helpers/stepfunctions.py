"""Helpers of the Step Functions tests on the emulator or on moto's server in this process: run a state
machine and wait for its end, a training job's Task parameters and its data set, a local project's outputs."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from . import ACCOUNT, REGION


def sagemaker_backend():
    from moto.sagemaker.models import sagemaker_backends

    return sagemaker_backends[ACCOUNT][REGION]


def run(
    sfn,
    definition: dict,
    execution_input: dict | None = None,
    name: str = "test",
    wait: bool = True,
    timeout: float = 60.0,
) -> dict:
    """Create (or update) a state machine and run it; the final DescribeExecution (or the ARN if not wait)."""
    role = f"arn:aws:iam::{ACCOUNT}:role/pipeline"
    try:
        arn = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=role)["stateMachineArn"]
    except sfn.exceptions.StateMachineAlreadyExists:
        arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"
        sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(definition))
    execution = sfn.start_execution(
        stateMachineArn=arn, name=uuid.uuid4().hex, input=json.dumps(execution_input or {})
    )["executionArn"]
    return finish(sfn, execution, timeout) if wait else {"executionArn": execution}


def finish(sfn, execution_arn: str, timeout: float = 60.0) -> dict:
    import time

    deadline = time.monotonic() + timeout
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            return described
        assert time.monotonic() < deadline, f"execution still running after {timeout} s"
        time.sleep(0.1)


DATA_BUCKET, MODEL_BUCKET = "vwt-test-data", "vwt-test-models"
METRICS = [{"Name": n, "Regex": rf"{n}=([0-9.eE+-]+)"} for n in ("validation:auc", "validation:accuracy")]
HYPERPARAMETERS = {
    "algorithm": "random_forest",
    "task": "classification",
    "label": "self_excluded",
    "no_trees": "8",
    "max_depth": "5",
}


def training_job(name_path: str = "$.name", prefix: str = "training/", **overrides) -> dict:
    """Parameters of a createTrainingJob Task (the shape the pipeline's Train state sends); the data is what
    `training_data` uploads under `prefix` (an empty prefix: a job the local runtime fails)."""
    return {
        "TrainingJobName.$": name_path,
        "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/sagemaker",
        "AlgorithmSpecification": {
            "TrainingImage": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/vwt:1",
            "TrainingInputMode": "File",
            "MetricDefinitions": METRICS,
        },
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "ContentType": "text/csv",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"s3://{DATA_BUCKET}/{prefix}",
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{MODEL_BUCKET}/training/"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        "HyperParameters": HYPERPARAMETERS,
        **overrides,
    }


def upload_training_data(s3) -> None:
    """A small classification data set (and its feature schema) under s3://vwt-test-data/training/."""
    from .container import SCHEMA, make_rows

    for bucket in (DATA_BUCKET, MODEL_BUCKET):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    rows = make_rows(200, "classification")
    lines = [",".join(rows[0])] + [",".join(str(v) for v in r.values()) for r in rows]
    s3.put_object(Bucket=DATA_BUCKET, Key="training/data.csv", Body=("\n".join(lines) + "\n").encode())
    s3.put_object(Bucket=DATA_BUCKET, Key="training/schema.json", Body=json.dumps(SCHEMA).encode())


def write_outputs(project: Path, outputs: dict) -> None:
    (project / ".vwt" / "envs" / "local" / "outputs.json").write_text(json.dumps(outputs))


def train_model(sm, name: str, limit: float = 240.0) -> str:
    """Run a training job of `training_job`'s shape (directly, no state machine) to completion: its model.tar.gz."""
    import time

    params = {k: v for k, v in training_job().items() if k != "TrainingJobName.$"}
    sm.create_training_job(TrainingJobName=name, **params)
    deadline = time.monotonic() + limit
    while (job := sm.describe_training_job(TrainingJobName=name))["TrainingJobStatus"] == "InProgress":
        assert time.monotonic() < deadline, "the training job did not end"
        time.sleep(0.2)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    return job["ModelArtifacts"]["S3ModelArtifacts"]
