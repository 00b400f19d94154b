"""The runtime keeps its state in objects, as moto keeps its records in backends: two runtimes keep separate
registries, and installing the moto patches again replaces them (they never stack) and can be undone.

In-process moto (no emulator process): the training jobs here fail at once, before any process starts."""

from __future__ import annotations

import time

import boto3
import pytest

from vwt_deploy.emulator.runtime import Runtime, sagemaker

REGION = "eu-west-1"


@pytest.fixture
def moto_sagemaker(monkeypatch):
    """A SageMaker client of moto in this process; moto's own SageMaker is put back afterwards."""
    from moto import mock_aws

    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    try:
        with mock_aws():
            yield boto3.client("sagemaker", region_name=REGION)
    finally:
        sagemaker.uninstall()


def job_args(name: str) -> dict:
    """A training job the local runtime fails while it lays out /opt/ml: its channel is not an S3Prefix."""
    return dict(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": "vwt-model:local", "TrainingInputMode": "File"},
        RoleArn="arn:aws:iam::123456789012:role/sagemaker",
        InputDataConfig=[
            {
                "ChannelName": "train",
                "DataSource": {"S3DataSource": {"S3DataType": "ManifestFile", "S3Uri": "s3://data/manifest"}},
            }
        ],
        OutputDataConfig={"S3OutputPath": "s3://models/training/"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 60},
    )


def ended(sm, name: str) -> dict:
    deadline = time.monotonic() + 30
    while True:
        described = sm.describe_training_job(TrainingJobName=name)
        if described["TrainingJobStatus"] not in ("InProgress", "Stopping") or time.monotonic() > deadline:
            return described
        time.sleep(0.05)


def test_two_runtimes_keep_separate_registries(tmp_path, moto_sagemaker):
    sm = moto_sagemaker
    a, b = Runtime(tmp_path / "a", port=1), Runtime(tmp_path / "b", port=2)
    assert a.sagemaker is not b.sagemaker and a.lambdas is not b.lambdas
    assert a.sagemaker.status_lock is not b.sagemaker.status_lock

    sagemaker.install(a)
    arn_a = sm.create_training_job(**job_args("job-a"))["TrainingJobArn"]
    sagemaker.install(b)  # moto's new records now run in b; a keeps what it runs
    arn_b = sm.create_training_job(**job_args("job-b"))["TrainingJobArn"]

    assert set(a.sagemaker.training) == {arn_a}
    assert set(b.sagemaker.training) == {arn_b}
    for name in ("job-a", "job-b"):
        described = ended(sm, name)
        assert described["TrainingJobStatus"] == "Failed"
        assert "S3DataType ManifestFile is not supported locally" in described["FailureReason"]
    assert (a.work / "training" / "job-a").is_dir() and not (a.work / "training" / "job-b").exists()
    assert (b.work / "training" / "job-b").is_dir() and not (b.work / "training" / "job-a").exists()

    a.stop_all()  # stops what a runs, nothing of b's
    assert a.sagemaker.training[arn_a].stop_requested.is_set()
    assert not b.sagemaker.training[arn_b].stop_requested.is_set()


def test_installing_again_replaces_the_patches_and_uninstall_restores_moto(tmp_path, moto_sagemaker):
    from moto.sagemaker.models import SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse
    from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

    own_create = SageMakerModelBackend.__dict__["create_training_job"]
    own_invoke = SageMakerRuntimeResponse.__dict__["invoke_endpoint"]
    assert "stop_training_job" not in SageMakerResponse.__dict__  # moto has none: the runtime adds it

    sagemaker.install(Runtime(tmp_path / "a", port=1))
    first = SageMakerModelBackend.create_training_job
    sagemaker.install(Runtime(tmp_path / "b", port=2))
    second = SageMakerModelBackend.create_training_job
    assert second is not first and second.vwt_original is first.vwt_original is own_create  # replaced, not wrapped
    assert SageMakerResponse.stop_training_job.__name__ == "stop_training_job"

    sagemaker.uninstall()
    assert SageMakerModelBackend.__dict__["create_training_job"] is own_create
    assert SageMakerRuntimeResponse.__dict__["invoke_endpoint"] is own_invoke
    assert "stop_training_job" not in SageMakerResponse.__dict__
