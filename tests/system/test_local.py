"""The whole system on the emulator: the real Terraform, applied with `vwt-deploy up --env local`.

One deployment for the module (a first `up` costs about a minute, most of it the AWS provider's own
wait for lifecycle rules to settle), checked as a user would check it with boto3, then: a concurrent
`up` refused by the state lock, a second `up` with nothing to do, a lost emulator rebuilt, and a `down`
that leaves nothing behind. Every process is stopped at the end.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import boto3
import pytest

from vwt_deploy.emulator.manager import Emulator

pytestmark = pytest.mark.system

MODELS = ("bid-problem-gambling", "gb-problem-gambling", "gb-marketing")


def cli(project: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "vwt_deploy.cli", "--project-dir", str(project), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def start_cli(project: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "vwt_deploy.cli", "--project-dir", str(project), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    from tests.conftest import copy_project

    root = copy_project(tmp_path_factory.mktemp("system"))
    yield root
    Emulator(root / ".vwt" / "emulator").stop()


def client(project: Path, service: str):
    info = Emulator(project / ".vwt" / "emulator").running()
    assert info, "the emulator should be running"
    return boto3.client(
        service, endpoint_url=info.url, region_name="eu-west-1", aws_access_key_id="test", aws_secret_access_key="test"
    )


@pytest.fixture(scope="module")
def first_up(project: Path) -> dict:
    """`up --yes`, and while it applies a second `up` on the same environment (it must meet the lock)."""
    first = start_cli(project, "up", "--env", "local", "--yes")
    watchdog = threading.Timer(900, first.kill)  # a hung apply fails the test instead of hanging it
    watchdog.start()
    second = None
    lines: list[str] = []
    assert first.stdout is not None
    for line in first.stdout:
        lines.append(line)
        if second is None and "Creating..." in line:  # the first holds the state lock while it applies
            second = cli(project, "up", "--env", "local", "--yes")
    first.wait(timeout=60)
    watchdog.cancel()
    return {"code": first.returncode, "output": "".join(lines), "second": second}


def test_first_up_deploys(first_up: dict) -> None:
    assert first_up["code"] == 0, first_up["output"][-3000:]
    assert "local is up." in first_up["output"]


def test_a_concurrent_up_meets_the_lock(first_up: dict) -> None:
    second = first_up["second"]
    assert second is not None, "the first up never reached its apply"
    assert second.returncode == 1
    assert "is locked" in second.stderr and "nothing was changed" in second.stderr
    assert "Traceback" not in second.stderr


def test_buckets_are_encrypted_versioned_and_private(project: Path, first_up: dict) -> None:
    s3 = client(project, "s3")
    names = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    framework = {f"vwt-local-data-{k}" for k in ("before-initial-deposit", "gambling-behaviour")}
    framework |= {f"vwt-local-model-{m}" for m in MODELS}
    assert framework <= names
    for bucket in framework:
        rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
        assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms", bucket
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled", bucket
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert all(block.values()), bucket
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        assert any(
            st.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false" for st in policy["Statement"]
        ), bucket


def test_the_rest_of_the_framework_is_there(project: Path, first_up: dict) -> None:
    ecr = client(project, "ecr").describe_repositories()["repositories"]
    assert [r["repositoryName"] for r in ecr] == ["vwt-local-sklearn"]
    assert ecr[0]["imageTagMutability"] == "IMMUTABLE" and ecr[0]["imageScanningConfiguration"]["scanOnPush"]

    functions = {f["FunctionName"] for f in client(project, "lambda").list_functions()["Functions"]}
    assert "vwt-local-predict" in functions

    api = client(project, "apigateway")
    rest = next(a for a in api.get_rest_apis()["items"] if a["name"].startswith("vwt-local"))
    resources = api.get_resources(restApiId=rest["id"], embed=["methods"])["items"]
    predictions = next(r for r in resources if r["path"] == "/v1/models/{model}/predictions")
    assert predictions["resourceMethods"]["POST"]["apiKeyRequired"] is True

    endpoints = {e["EndpointName"] for e in client(project, "sagemaker").list_endpoints()["Endpoints"]}
    assert endpoints == {f"vwt-local-{m}" for m in MODELS}

    machines = {m["name"] for m in client(project, "stepfunctions").list_state_machines()["stateMachines"]}
    assert len([m for m in machines if m.startswith("vwt-local")]) == len(MODELS)

    rules = client(project, "events").list_rules()["Rules"]
    schedules = [r for r in rules if r.get("ScheduleExpression")]
    assert len(schedules) == len(MODELS)

    alarms = client(project, "cloudwatch").describe_alarms()["MetricAlarms"]
    assert len(alarms) >= 10

    topics = {t["TopicArn"].rsplit(":", 1)[1] for t in client(project, "sns").list_topics()["Topics"]}
    assert {"vwt-local-intervention", "vwt-local-operator"} <= topics
    queues = client(project, "sqs").list_queues()["QueueUrls"]
    assert any(q.endswith("vwt-local-intervention") for q in queues)
    assert any(q.endswith("vwt-local-intervention-dlq") for q in queues)


def test_status_shows_the_api_and_builds_nothing(project: Path, first_up: dict) -> None:
    import shutil

    built = [project / ".vwt" / "envs" / "local" / name for name in ("build", "render")]
    for folder in built:
        shutil.rmtree(folder)
    res = cli(project, "status", "--env", "local", "--json")
    assert not any(folder.exists() for folder in built)  # nothing rendered, packaged or built
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["emulator"] == "running" and data["emulator_url"].startswith("http://127.0.0.1:")
    assert data["outputs"]["api_url"] and set(data["outputs"]["endpoint_names"]) == set(MODELS)


def test_second_up_changes_nothing(project: Path, first_up: dict) -> None:
    res = cli(project, "up", "--env", "local", "--yes")
    assert res.returncode == 0, res.stderr[-3000:]
    assert "local is up to date: no changes, nothing applied." in res.stdout


def test_a_lost_emulator_is_reported_and_rebuilt(project: Path, first_up: dict) -> None:
    Emulator(project / ".vwt" / "emulator").stop()  # as if it died: its memory is gone
    status = cli(project, "status", "--env", "local", "--json")
    assert status.returncode == 0
    data = json.loads(status.stdout)
    assert data["emulator"] == "not running" and "run `vwt-deploy up --env local` to rebuild" in data["warning"]
    res = cli(project, "up", "--env", "local", "--yes")
    assert res.returncode == 0, res.stderr[-3000:]
    assert "local is up." in res.stdout
    assert len(client(project, "sagemaker").list_endpoints()["Endpoints"]) == len(MODELS)


def test_down_leaves_nothing(project: Path, first_up: dict) -> None:
    s3 = client(project, "s3")
    s3.put_object(Bucket="vwt-local-data-gambling-behaviour", Key="training/x.csv", Body=b"a,b\n1,2\n")
    res = cli(project, "down", "--env", "local", "--yes", "--keep-emulator")
    assert res.returncode == 0, res.stderr[-3000:]
    assert "local is down." in res.stdout
    names = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert names <= {"vwt-local-tfstate"}, names
    assert client(project, "sagemaker").list_endpoints()["Endpoints"] == []
    assert client(project, "sagemaker").list_models()["Models"] == []
    assert client(project, "lambda").list_functions()["Functions"] == []
    assert client(project, "stepfunctions").list_state_machines()["stateMachines"] == []
    assert client(project, "ecr").describe_repositories()["repositories"] == []
    res = cli(project, "down", "--env", "local", "--yes")
    assert res.returncode == 0 and "nothing to destroy" in res.stdout
    assert Emulator(project / ".vwt" / "emulator").status()[0] == "not running"
