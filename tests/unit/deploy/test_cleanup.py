"""What `down` removes beyond Terraform, with moto: run-time SageMaker resources, and bucket contents."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from vwt_deploy.config import load
from vwt_deploy.deploy.cleanup import empty_bucket, framework_buckets, non_empty_buckets, remove_runtime_leftovers

ROLE = "arn:aws:iam::123456789012:role/sm"
CONTAINER = {"Image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/i:1"}


@pytest.fixture
def sm(moto):
    return boto3.client("sagemaker", region_name="eu-west-1")


def _model(sm, name: str, env: str) -> None:
    sm.create_model(
        ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer=CONTAINER, Tags=[{"Key": "environment", "Value": env}]
    )
    sm.create_endpoint_config(
        EndpointConfigName=f"{name}-config",
        Tags=[{"Key": "environment", "Value": env}],
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
        ],
    )


def test_removes_only_this_environments_runtime_resources(repo: Path, sm) -> None:
    env = load("dev", repo)
    _model(sm, "vwt-dev-gb-marketing-20261127", "dev")  # made by retraining in dev
    _model(sm, "vwt-dev-gb-marketing-other-team", "staging")  # right prefix, wrong tag
    _model(sm, "someone-elses-model", "dev")  # right tag, wrong prefix
    removed = remove_runtime_leftovers(env, sm)
    assert removed == {
        "endpoint_configs": ["vwt-dev-gb-marketing-20261127-config"],
        "models": ["vwt-dev-gb-marketing-20261127"],
    }
    left = sorted(m["ModelName"] for m in sm.list_models()["Models"])
    assert left == ["someone-elses-model", "vwt-dev-gb-marketing-other-team"]


def test_finds_and_empties_buckets_with_objects(repo: Path, moto) -> None:
    env = load("dev", repo)
    s3 = boto3.client("s3", region_name="eu-west-1")
    assert non_empty_buckets(env, s3) == {}  # buckets that do not exist hold nothing
    for name in framework_buckets(env):
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    data = env.data_bucket_name("gambling-behaviour")
    s3.put_bucket_versioning(Bucket=data, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=data, Key="training/a.csv", Body=b"1")
    s3.put_object(Bucket=data, Key="training/a.csv", Body=b"2")  # a second version
    s3.delete_object(Bucket=data, Key="training/a.csv")  # and a delete marker
    assert non_empty_buckets(env, s3) == {data: 3}
    assert empty_bucket(s3, data) == 3
    assert non_empty_buckets(env, s3) == {}
    assert len(framework_buckets(env)) == 2 + len(env.catalogue.models)  # data buckets and a model bucket each
