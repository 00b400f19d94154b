"""The deploy role's committed policy (environments/deployer-policy.json): linted, `*` only where AWS has no narrower
form, and one environment's role refused on another's names, decided by the emulator's IAM evaluator."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from tests.helpers import REPO
from vwt_deploy.deploy.deployrole import NO_RESOURCE_SID, render_policy
from vwt_deploy.emulator.iam.catalogue import Catalogue
from vwt_deploy.emulator.iam.policy import Request, evaluate

TEMPLATE = (REPO / "environments" / "deployer-policy.json").read_text()
ACCOUNT, REGION = "111111111111", "eu-west-1"
#: actions granted on `*` although they have a resource type, and why (scripts/lint_iam.py says the same)
STAR_ANYWAY = {"cloudwatch:DescribeAlarms": "`status` asks for the alarms in ALARM by name prefix, naming none"}


def test_the_policy_passes_parliament() -> None:
    res = subprocess.run(["scripts/lint-iam.sh"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "0 not excepted" in res.stdout


def test_parliament_is_version_bounded() -> None:
    assert re.search(r"parliament>=1\.6\.4,<1\.7", (REPO / "scripts" / "lint-iam.sh").read_text())


def test_star_only_where_the_action_has_no_resource_level_form() -> None:
    statements = json.loads(TEMPLATE)["Statement"]
    starred = [s for s in statements if s["Resource"] == "*" or "*" in s["Resource"]]
    assert [s["Sid"] for s in starred] == [NO_RESOURCE_SID]
    catalogue = Catalogue()
    for action in starred[0]["Action"]:
        required = [r.name for r in catalogue.action(action).resource_types if r.required]
        assert not required or action in STAR_ANYWAY, f"{action} has the resource type(s) {required}: scope it"
    for statement in statements:  # every other resource names the environment, or an ID AWS makes
        for resource in [] if statement is starred[0] else statement["Resource"]:
            assert "${name_prefix}" in resource or ":role/aws-service-role/" in resource or resource.endswith((
                "/*", "/account", "/apikeys", "/restapis", "/usageplans", "/domainnames", "alias/aws/dynamodb",
                "Logs_*")
            ), resource  # fmt: skip
    linked = [s for s in statements if s["Action"] == ["iam:CreateServiceLinkedRole"]]  # issue 20, item 6
    assert [s["Condition"] for s in linked] == [
        {"StringEquals": {"iam:AWSServiceName": ["sagemaker.application-autoscaling.amazonaws.com"]}}
    ]


def _role(env: str) -> tuple[str, list[dict]]:
    policy = json.loads(render_policy(TEMPLATE, f"vwt-{env}", ACCOUNT, REGION))
    return f"arn:aws:sts::{ACCOUNT}:assumed-role/vwt-{env}-deploy/ci", [policy]


@pytest.mark.parametrize(
    ("action", "resource"),
    [
        ("s3:PutObject", "arn:aws:s3:::vwt-{env}-model-gb-marketing-111111111111-eu-west-1/baseline/model.tar.gz"),
        ("s3:DeleteBucket", "arn:aws:s3:::vwt-{env}-data-gambling-behaviour-111111111111-eu-west-1"),
        ("iam:PassRole", "arn:aws:iam::111111111111:role/vwt-{env}-sagemaker"),
        ("sagemaker:DeleteEndpoint", "arn:aws:sagemaker:eu-west-1:111111111111:endpoint/vwt-{env}-gb-marketing"),
        (
            "states:StartExecution",
            "arn:aws:states:eu-west-1:111111111111:stateMachine:vwt-{env}-gb-marketing-retraining",
        ),
        ("lambda:UpdateFunctionCode", "arn:aws:lambda:eu-west-1:111111111111:function:vwt-{env}-predict"),
        ("ssm:PutParameter", "arn:aws:ssm:eu-west-1:111111111111:parameter/vwt-{env}/current-model/gb-marketing"),
    ],
)
def test_devs_deploy_role_may_act_on_devs_names_and_is_denied_on_stagings(action: str, resource: str) -> None:
    principal, policies = _role("dev")
    assert evaluate(Request(principal, action, resource.format(env="dev")), policies).allowed
    denied = evaluate(Request(principal, action, resource.format(env="staging")), policies)
    assert not denied.allowed and denied.deny_kind == "implicit"
