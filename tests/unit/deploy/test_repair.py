"""`up` repairs a Failed endpoint: deleted and created again with the configuration it served (moto's SageMaker)."""

from __future__ import annotations

import boto3
import pytest

from tests.helpers import ACCOUNT, REGION
from vwt_deploy.config import load
from vwt_deploy.deploy.repair import repair_failed_endpoints
from vwt_deploy.errors import VwtError

MODEL = "gb-problem-gambling"
CRASH_LOOP = "the serving process exited with code -9, 4 times within 300 s: the endpoint is Failed"


def _deploy(sm, env, model: str) -> str:
    """An endpoint as the pipeline leaves it: a model, its configuration, the endpoint with Terraform's tags."""
    name = env.endpoint_name(model)
    sm.create_model(
        ModelName=f"{name}-v2",
        ExecutionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/vwt-local-sagemaker",
        PrimaryContainer={"Image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/vwt-local-sklearn:abc"},
    )
    sm.create_endpoint_config(
        EndpointConfigName=f"{name}-v2",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": f"{name}-v2",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-v2", Tags=[{"Key": "vwt:env", "Value": "local"}])
    return name


def _fail(name: str, reason: str) -> None:
    from moto.sagemaker.models import sagemaker_backends

    record = sagemaker_backends[ACCOUNT][REGION].endpoints[name]
    record.endpoint_status, record.failure_reason = "Failed", reason


def test_a_failed_endpoint_is_created_again_with_what_it_served(moto, project):
    env = load("local", project.root)
    sm = boto3.client("sagemaker", region_name=REGION)
    name = _deploy(sm, env, MODEL)
    healthy = _deploy(sm, env, "gb-marketing")
    healthy_created = sm.describe_endpoint(EndpointName=healthy)["CreationTime"]
    _fail(name, CRASH_LOOP)
    said: list[str] = []
    repairs = repair_failed_endpoints(env, sm, said.append, poll_seconds=0.01, timeout_seconds=5)
    assert [r.as_dict() for r in repairs] == [
        {
            "endpoint": name,
            "endpoint_config": f"{name}-v2",
            "was_failed_because": CRASH_LOOP,
        }
    ]
    described = sm.describe_endpoint(EndpointName=name)
    assert described["EndpointStatus"] == "InService" and described["EndpointConfigName"] == f"{name}-v2"
    assert {"Key": "vwt:env", "Value": "local"} in sm.list_tags(ResourceArn=described["EndpointArn"])["Tags"]
    assert sm.describe_endpoint(EndpointName=healthy)["CreationTime"] == healthy_created  # left alone
    assert said[0].startswith(f"endpoint {name} is Failed (the serving process exited") and f"{name}-v2" in said[0]
    assert said[-1] == f"endpoint {name} is InService again"


def test_nothing_deployed_or_nothing_failed_repairs_nothing(moto, project):
    env = load("local", project.root)
    sm = boto3.client("sagemaker", region_name=REGION)
    assert repair_failed_endpoints(env, sm, print, poll_seconds=0.01, timeout_seconds=5) == []
    _deploy(sm, env, MODEL)
    assert repair_failed_endpoints(env, sm, print, poll_seconds=0.01, timeout_seconds=5) == []


class _FailsAgain:
    """SageMaker whose endpoint fails again whatever it is created with (a model that cannot start)."""

    def __init__(self, sm):
        self.sm = sm

    def __getattr__(self, name):
        return getattr(self.sm, name)

    def create_endpoint(self, **kwargs):
        out = self.sm.create_endpoint(**kwargs)
        _fail(kwargs["EndpointName"], "the model cannot be loaded: bad pickle")
        return out


def test_an_endpoint_that_fails_again_says_why_and_what_to_do(moto, project):
    env = load("local", project.root)
    sm = boto3.client("sagemaker", region_name=REGION)
    name = _deploy(sm, env, MODEL)
    _fail(name, "crash loop")
    with pytest.raises(VwtError) as err:
        repair_failed_endpoints(env, _FailsAgain(sm), print, poll_seconds=0.01, timeout_seconds=5)
    assert f"endpoint {name} failed again with {name}-v2: the model cannot be loaded: bad pickle" in err.value.message
    assert "vwt-deploy models rollback" in err.value.hint
