"""Fixtures of the Step Functions runtime tests: the emulator as a process, moto's server in this process
(so a test can move a job through statuses the way the local SageMaker runtime does), a deployed-looking
local project."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest

from vwt_deploy.emulator.manager import Emulator, EmulatorInfo
from vwt_deploy.emulator.runtime.stepfunctions import POLL_ENV

from ..conftest import copy_project

REGION, ACCOUNT = "eu-west-1", "123456789012"


def clients(url: str) -> Callable:
    def client(service: str):
        return boto3.client(
            service, endpoint_url=url, region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test"
        )

    return client


@pytest.fixture(scope="module")
def fast_polls() -> Iterator[None]:
    """`.sync` tasks poll every 0.1 s (the emulator process inherits it)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(POLL_ENV, "0.1")
        yield


@pytest.fixture(scope="module")
def emulator(tmp_path_factory, fast_polls) -> Iterator[EmulatorInfo]:
    em = Emulator(tmp_path_factory.mktemp("emulator"))
    info = em.start()
    yield info
    em.stop()


@pytest.fixture(scope="module")
def aws(emulator: EmulatorInfo) -> Callable:
    """Clients of the emulator, whose S3 holds the training data set."""
    client = clients(emulator.url)
    upload_training_data(client("s3"))
    return client


@pytest.fixture(scope="module")
def moto_server(tmp_path_factory, fast_polls) -> Iterator[Callable]:
    """moto's server on a free port in this process, interpreting state machines, with the runtime's
    SageMaker integration installed (and every global put back afterwards). Yields a client factory."""
    from moto.core.config import default_user_config
    from moto.server import ThreadedMotoServer
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory

    from vwt_deploy.emulator.runtime import Runtime, stepfunctions

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    port = server.get_host_and_port()[1]
    saved = (state_task_factory.state_task_service_for, default_user_config["stepfunctions"]["execute_state_machine"])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MOTO_PORT", str(port))  # the interpreter's own calls (aws-sdk, sns) go to this server
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            mp.setenv(key, "test")
        default_user_config["stepfunctions"]["execute_state_machine"] = True
        stepfunctions.install(Runtime(tmp_path_factory.mktemp("runtime"), port))
        try:
            yield clients(f"http://127.0.0.1:{port}")
        finally:
            state_task_factory.state_task_service_for = saved[0]
            default_user_config["stepfunctions"]["execute_state_machine"] = saved[1]
            server.stop()


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
    from tests.container.container_helpers import SCHEMA, make_rows

    for bucket in (DATA_BUCKET, MODEL_BUCKET):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    rows = make_rows(200, "classification")
    lines = [",".join(rows[0])] + [",".join(str(v) for v in r.values()) for r in rows]
    s3.put_object(Bucket=DATA_BUCKET, Key="training/data.csv", Body=("\n".join(lines) + "\n").encode())
    s3.put_object(Bucket=DATA_BUCKET, Key="training/schema.json", Body=json.dumps(SCHEMA).encode())


@pytest.fixture(scope="module")
def deployed_project(tmp_path_factory) -> Iterator[tuple[Path, Callable]]:
    """A project copy whose emulator runs and whose `local` environment looks as `up` leaves it: the
    deployment marker of this emulator boot and cached Terraform outputs. Tests create the state machines
    and rules those outputs name. Yields (project folder, client factory)."""
    root = copy_project(tmp_path_factory.mktemp("project"))
    state = root / ".vwt"
    em = Emulator(state / "emulator")
    info = em.start()
    try:
        env_dir = state / "envs" / "local"
        env_dir.mkdir(parents=True, exist_ok=True)
        (env_dir / "deployed.json").write_text(json.dumps({"boot_id": info.boot_id}))
        yield root, clients(info.url)
    finally:
        em.stop()


def write_outputs(project: Path, outputs: dict) -> None:
    (project / ".vwt" / "envs" / "local" / "outputs.json").write_text(json.dumps(outputs))


os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
