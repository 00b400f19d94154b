"""`vwt-deploy models`: the registry's versions, and approve / reject / rollback with each bad input.

A project's own emulator holds a model package group with versions as the pipeline registers them, the serving
record, and a small deploy-mode state machine that does what the pipeline's deploy mode does with the registry
(describe the version, deploy only an Approved one of the group, write the serving record). The approval of the
prod-like path goes through the emulator's EventBridge: a rule on SageMaker's model-package state-change event,
with the input transformer Terraform gives it. The whole pipeline on AWS-shaped resources is the system tier.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.helpers import ACCOUNT, REGION
from tests.helpers.stepfunctions import write_outputs
from vwt_deploy.cli import main

MODEL = "gb-problem-gambling"
GROUP = f"vwt-local-{MODEL}"
PARAMETER = f"/vwt/local/current-model/{MODEL}"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/pipeline"
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/vwt:1"


def cli(project: Path, *args: str):
    return CliRunner().invoke(main, ["--project-dir", str(project), *args])


def deploy_machine() -> dict:
    """The pipeline's deploy mode, reduced to what touches the registry and the serving record."""
    return {
        "StartAt": "CheckInput",
        "States": {
            "CheckInput": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.mode", "StringEquals": "deploy", "Next": "DescribeVersion"}],
                "Default": "InvalidInput",
            },
            "InvalidInput": {"Type": "Fail", "Error": "InvalidInput"},
            "DescribeVersion": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:sagemaker:describeModelPackage",
                "Parameters": {"ModelPackageName.$": "$.model_package_arn"},
                "ResultSelector": {"status.$": "$.ModelApprovalStatus", "group.$": "$.ModelPackageGroupName"},
                "ResultPath": "$.version",
                "Next": "CheckApproved",
            },
            "CheckApproved": {
                "Type": "Choice",
                "Choices": [
                    {
                        "And": [
                            {"Variable": "$.version.status", "StringEquals": "Approved"},
                            {"Variable": "$.version.group", "StringEquals": GROUP},
                        ],
                        "Next": "ComposeRecord",
                    }
                ],
                "Default": "NotApproved",
            },
            "ComposeRecord": {
                "Type": "Pass",
                "Parameters": {
                    "record": {
                        "model": MODEL,
                        "model_data_url": "s3://vwt-test-registry/model.tar.gz",
                        "model_package_arn.$": "$.model_package_arn",
                    },
                    "release": {"model_package_arn.$": "$.model_package_arn"},
                },
                "Next": "WriteRecord",
            },
            "NotApproved": {"Type": "Fail", "Error": "NotApproved"},
            "WriteRecord": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:ssm:putParameter",
                "Parameters": {
                    "Name": PARAMETER,
                    "Overwrite": True,
                    "Value.$": "States.JsonToString($.record)",
                },
                "ResultPath": None,
                "Next": "Deployed",
            },
            "Deployed": {"Type": "Succeed"},
        },
    }


def record(arn: str | None) -> dict:
    return {
        "model": MODEL,
        "model_data_url": "s3://vwt-test-registry/model.tar.gz",
        **({"model_package_arn": arn} if arn else {}),
    }


@pytest.fixture(scope="module")
def registry(deployed_project):
    root, client = deployed_project
    sm, sfn = client("sagemaker"), client("stepfunctions")
    sm.create_model_package_group(ModelPackageGroupName=GROUP)
    machine = sfn.create_state_machine(name="deploy", definition=json.dumps(deploy_machine()), roleArn=ROLE)
    outputs = {
        "state_machine_arns": {MODEL: machine["stateMachineArn"]},
        "placeholder_state_machines": [],
        "model_package_groups": {MODEL: GROUP},
        "current_model_parameter_names": {MODEL: PARAMETER},
    }
    write_outputs(root, outputs)
    return root, client


def register(client, status: str, decision: str = "deploy", reason: str = "the challenger is better") -> str:
    metadata = {
        "model": MODEL,
        "environment": "local",
        "execution": "run-1",
        "mode": "train",
        "training_job": f"job-{status.lower()}",
        "data_location": "s3://data/training/",
        "champion_model": "s3://vwt-test-registry/champion/model.tar.gz",
        "metric": "validation:auc",
        "challenger": "0.81",
        "champion": "0.74",
        "floor": "0.6",
        "gate_decision": decision,
        "gate_reason": reason,
        "approval": "auto by the pipeline" if status == "Approved" else "manual",
        "hp.no_trees": "10",
    }
    return client("sagemaker").create_model_package(
        ModelPackageGroupName=GROUP,
        ModelApprovalStatus=status,
        InferenceSpecification={
            "Containers": [{"Image": IMAGE, "ModelDataUrl": f"s3://vwt-test-registry/{status}/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
        CustomerMetadataProperties=metadata,
    )["ModelPackageArn"]


@pytest.fixture
def versions(registry):
    """A fresh registry: 1 Approved and serving, 2 Rejected by the gate, 3 PendingManualApproval."""
    root, client = registry
    sm = client("sagemaker")
    for summary in sm.list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"]:
        sm.delete_model_package(ModelPackageName=summary["ModelPackageArn"])
    arns = [
        register(client, "Approved"),
        register(client, "Rejected", "keep", "validation:auc 0.55 is below the floor 0.6: never deployed"),
        register(client, "PendingManualApproval"),
    ]
    client("ssm").put_parameter(Name=PARAMETER, Type="String", Overwrite=True, Value=json.dumps(record(arns[0])))
    return root, client, arns


def serving(client) -> str | None:
    return json.loads(client("ssm").get_parameter(Name=PARAMETER)["Parameter"]["Value"]).get("model_package_arn")


def status_of(client, arn: str) -> str:
    return client("sagemaker").describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"]


def test_list_shows_every_version_newest_first_and_which_serves(versions):
    root, _, _ = versions
    res = cli(root, "models", "list", "--model", MODEL, "--json")
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert [(r["version"], r["status"], r["serving"]) for r in rows] == [
        (3, "PendingManualApproval", False),
        (2, "Rejected", False),
        (1, "Approved", True),
    ]
    human = cli(root, "models", "list", "--model", MODEL)
    assert "*    1  Approved" in human.output and "gate: keep" in human.output


def test_show_prints_lineage_metrics_the_gate_and_who_approved(versions):
    root, _, arns = versions
    res = cli(root, "models", "show", "--model", MODEL, "--version", "1")
    assert res.exit_code == 0, res.output
    for text in (
        f"version 1 of {MODEL}: Approved (serving)",
        "training job:   job-approved (train run run-1)",
        "data:           s3://data/training/",
        f"image:          {IMAGE}",
        "artifact:       s3://vwt-test-registry/Approved/model.tar.gz",
        "validation:auc: 0.81 (champion on the same hold-out: 0.74; floor: 0.6)",
        "gate:           deploy: the challenger is better",
        "approval:       auto by the pipeline",
        "hyperparameters: no_trees=10",
    ):
        assert text in res.output, text
    data = json.loads(cli(root, "models", "show", "--model", MODEL, "--json").output)
    assert data["version"] == 3 and data["arn"] == arns[2]  # the newest by default
    assert data["approval"]["by"] == "nobody yet: it awaits a person's approval"


def test_approve_of_a_version_that_failed_the_gate_is_refused_with_the_reason(versions):
    root, client, arns = versions
    res = cli(root, "models", "approve", "--model", MODEL, "--version", "2")
    assert res.exit_code == 1
    assert "version 2 of gb-problem-gambling failed the gate, so it cannot be approved" in res.output
    assert "validation:auc 0.55 is below the floor 0.6: never deployed" in res.output
    assert status_of(client, arns[1]) == "Rejected" and serving(client) == arns[0]


def test_manual_approval_deploys_through_the_registry_event(versions):
    """The prod-like path: nothing deploys until a person approves; the approval's event starts the deployment."""
    root, client, arns = versions
    events = client("events")
    pattern = {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Model Package State Change"],
        "detail": {"ModelPackageGroupName": [GROUP], "ModelApprovalStatus": ["Approved"]},
    }
    events.put_rule(Name="approved", EventPattern=json.dumps(pattern))
    machine = json.loads((root / ".vwt" / "envs" / "local" / "outputs.json").read_text())["state_machine_arns"][MODEL]
    events.put_targets(
        Rule="approved",
        Targets=[
            {
                "Id": "deploy",
                "Arn": machine,
                "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/events",
                "InputTransformer": {
                    "InputPathsMap": {"package": "$.detail.ModelPackageArn"},
                    "InputTemplate": f'{{"model": "{MODEL}", "mode": "deploy", "model_package_arn": "<package>"}}',
                },
            }
        ],
    )
    try:
        assert serving(client) == arns[0]  # registered PendingManualApproval: nothing was deployed
        res = cli(
            root,
            "models",
            "approve",
            "--model",
            MODEL,
            "--version",
            "3",
            "--reason",
            "risk team review 42",
            "--wait",
            "--set",
            "approval=manual",
        )
        assert res.exit_code == 0, res.output
        assert "deploying: arn:aws:states" in res.output and "deployed" in res.output
        assert serving(client) == arns[2] and status_of(client, arns[2]) == "Approved"
        shown = json.loads(cli(root, "models", "show", "--model", MODEL, "--version", "3", "--json").output)
        assert shown["serving"] and shown["approval"]["by"].startswith("approved by arn:aws:")
        assert shown["approval"]["by"].endswith("with vwt-deploy: risk team review 42")
    finally:
        events.remove_targets(Rule="approved", Ids=["deploy"])
        events.delete_rule(Name="approved")


def test_automatic_approval_starts_the_deployment_itself(versions):
    root, client, arns = versions
    res = cli(root, "models", "approve", "--model", MODEL, "--version", "3", "--json")
    assert res.exit_code == 0, res.output
    execution = json.loads(res.output)["execution_arn"]
    described = client("stepfunctions").describe_execution(executionArn=execution)
    assert json.loads(described["input"]) == {"model": MODEL, "mode": "deploy", "model_package_arn": arns[2]}


def test_rollback_deploys_the_previous_approved_version_and_then_has_none_left(versions):
    root, client, arns = versions
    client("sagemaker").update_model_package(ModelPackageArn=arns[2], ModelApprovalStatus="Approved")
    client("ssm").put_parameter(Name=PARAMETER, Type="String", Overwrite=True, Value=json.dumps(record(arns[2])))
    res = cli(root, "models", "rollback", "--model", MODEL, "--wait")
    assert res.exit_code == 0, res.output
    assert "rolling back gb-problem-gambling to version 1" in res.output  # 2 was rejected: skipped
    assert serving(client) == arns[0]
    again = cli(root, "models", "rollback", "--model", MODEL)
    assert again.exit_code == 1
    assert "has no approved version older than what serves now (version 1)" in again.output
    assert serving(client) == arns[0]


def test_rollback_from_the_baseline_is_refused(versions):
    root, client, _ = versions
    client("ssm").put_parameter(Name=PARAMETER, Type="String", Overwrite=True, Value=json.dumps(record(None)))
    res = cli(root, "models", "rollback", "--model", MODEL)
    assert res.exit_code == 1
    assert "no approved version older than what serves now (the baseline (no registered version))" in res.output


def test_rollback_to_a_version_that_is_not_approved_is_refused(versions):
    root, _, _ = versions
    res = cli(root, "models", "rollback", "--model", MODEL, "--version", "3")
    assert res.exit_code == 1
    assert "version 3 of gb-problem-gambling is PendingManualApproval: only an approved version is deployed" in (
        res.output
    )


def test_reject_records_who_and_why_but_never_the_serving_version(versions):
    root, client, arns = versions
    refused = cli(root, "models", "reject", "--model", MODEL, "--version", "1")
    assert refused.exit_code == 1 and "is serving in local, so it cannot be rejected" in refused.output
    assert status_of(client, arns[0]) == "Approved"
    res = cli(root, "models", "reject", "--model", MODEL, "--version", "3", "--reason", "drifted features")
    assert res.exit_code == 0, res.output
    assert status_of(client, arns[2]) == "Rejected" and "drifted features" in res.output


def test_an_unknown_version_lists_the_known_ones(versions):
    root, _, _ = versions
    res = cli(root, "models", "show", "--model", MODEL, "--version", "9")
    assert res.exit_code == 2 and "has no version 9 in local (versions: 1, 2, 3)" in res.output


def test_an_unknown_model_lists_the_catalogue(versions):
    root, _, _ = versions
    res = cli(root, "models", "list", "--model", "nope")
    assert res.exit_code == 2 and "unknown model 'nope'" in res.output and "Traceback" not in res.output


def _archive(members: dict[str, bytes]) -> bytes:
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_show_fetches_the_evaluation_report_and_nothing_else(versions, tmp_path):
    root, client, _ = versions
    s3 = client("s3")
    s3.create_bucket(Bucket="vwt-test-registry", CreateBucketConfiguration={"LocationConstraint": REGION})
    html = b"<html><img src='data:image/png;base64,iVBORw0KGgo='></html>"
    s3.put_object(
        Bucket="vwt-test-registry",
        Key="Approved/output.tar.gz",  # beside the version's model.tar.gz, as SageMaker uploads /opt/ml/output/data
        Body=_archive({"report/report.html": html, "report/report.json": b'{"auc": 0.81}', "../escape.txt": b"x"}),
    )
    res = cli(root, "models", "show", "--model", MODEL, "--version", "1", "--report", str(tmp_path / "r"), "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["report"] == "s3://vwt-test-registry/Approved/output.tar.gz"
    assert Path(data["report_page"]).read_bytes() == html
    assert json.loads((tmp_path / "r" / "report" / "report.json").read_text()) == {"auc": 0.81}
    assert not (tmp_path / "escape.txt").exists() and sorted(p.name for p in (tmp_path / "r").iterdir()) == ["report"]
    missing = cli(root, "models", "show", "--model", MODEL, "--version", "3", "--report", str(tmp_path / "x"))
    assert missing.exit_code == 1 and "version 3 has no evaluation report" in missing.output
    assert not (tmp_path / "x").exists()
