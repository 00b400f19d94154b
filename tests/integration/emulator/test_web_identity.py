"""The deploy roles as GitHub Actions meet them, on an enforced emulator: a token of the emulator's issuer (GitHub's
stand-in) for one repository's environment is exchanged with AssumeRoleWithWebIdentity, and the session acts with
that environment's committed deploy policy (environments/deployer-policy.json, made by `bootstrap`).

The issue's bad inputs: dev's role, with IAM enforced, is denied on staging's names (and allowed on its own); a
token of another environment or repository cannot assume it; a missing role or provider gets one message naming
`vwt-deploy bootstrap`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest
import yaml
from botocore.exceptions import ClientError

from tests.helpers import copy_project
from tests.helpers.emulator import RunningEmulator, start_emulator
from vwt_deploy.config import load
from vwt_deploy.deploy.deployrole import bootstrap_deploy_role, subject
from vwt_deploy.deploy.targets.local import DEPLOY_ROLE, LocalTarget
from vwt_deploy.errors import ConfigError

ACCOUNT, REGION = "123456789012", "eu-west-1"
REPOSITORY = "vwt/framework"


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A project copy whose dev, staging and local environments are deployed from REPOSITORY."""
    root = copy_project(tmp_path_factory.mktemp("web-identity"))
    for name in ("dev", "staging", "local"):
        path = root / "environments" / f"{name}.yaml"
        data = yaml.safe_load(path.read_text())
        data["delivery"] = {"github_repository": REPOSITORY}
        path.write_text(yaml.safe_dump(data))
    return root


@pytest.fixture(scope="module")
def enforced(project: Path) -> Iterator[RunningEmulator]:
    running = start_emulator(project / ".vwt" / "emulator", iam="enforce")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def roles(project: Path, enforced: RunningEmulator) -> dict[str, str]:
    """dev's and staging's deploy roles, made by bootstrap's code with the committed policy."""
    template = (project / "environments" / "deployer-policy.json").read_text()
    iam = enforced.client("iam")
    return {name: bootstrap_deploy_role(load(name, project), iam, template, ACCOUNT).arn for name in ("dev", "staging")}


def _assume(running: RunningEmulator, role_arn: str, sub: str, audience: str = "sts.amazonaws.com") -> dict:
    token = running.manager.token(sub, audience)
    sts = boto3.client("sts", endpoint_url=running.url, region_name=REGION, aws_access_key_id="x",
                       aws_secret_access_key="x")  # fmt: skip
    return sts.assume_role_with_web_identity(RoleArn=role_arn, RoleSessionName="GitHubActions", WebIdentityToken=token)


def _code(call: Callable[[], object]) -> str:
    try:
        call()
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return "ok"


def test_a_token_of_devs_environment_assumes_devs_deploy_role(enforced, roles, project):
    answer = _assume(enforced, roles["dev"], subject(load("dev", project)))
    assert answer["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/vwt-dev-deploy/GitHubActions"
    as_dev = enforced.session(answer["Credentials"])
    assert as_dev("sts").get_caller_identity()["Arn"].endswith(":assumed-role/vwt-dev-deploy/GitHubActions")


@pytest.mark.parametrize(
    "sub",
    [
        f"repo:{REPOSITORY}:environment:staging",  # staging's jobs
        f"repo:{REPOSITORY}:ref:refs/heads/main",  # a job outside any GitHub Environment (no approval)
        "repo:someone/fork:environment:dev",  # another repository's dev
    ],
)
def test_no_other_environment_or_repository_may_assume_devs_role(enforced, roles, sub):
    with pytest.raises(ClientError) as refused:
        _assume(enforced, roles["dev"], sub)
    error = refused.value.response["Error"]
    assert (error["Code"], error["Message"]) == (
        "AccessDenied",
        "Not authorized to perform sts:AssumeRoleWithWebIdentity",
    )


def test_a_token_for_another_audience_or_a_forged_one_is_not_accepted(enforced, roles, project):
    dev = subject(load("dev", project))
    with pytest.raises(ClientError) as audience:
        _assume(enforced, roles["dev"], dev, audience="https://github.com/vwt")
    assert audience.value.response["Error"]["Code"] == "InvalidIdentityToken"
    assert "Incorrect token audience" in audience.value.response["Error"]["Message"]
    token = enforced.manager.token(dev)
    header, payload, signature = token.split(".")
    forged = ".".join([header, payload, signature[::-1]])
    sts = boto3.client("sts", endpoint_url=enforced.url, region_name=REGION, aws_access_key_id="x",
                       aws_secret_access_key="x")  # fmt: skip
    with pytest.raises(ClientError) as bad:
        sts.assume_role_with_web_identity(RoleArn=roles["dev"], RoleSessionName="ci", WebIdentityToken=forged)
    assert bad.value.response["Error"]["Code"] == "InvalidIdentityToken"


def test_devs_role_is_denied_on_stagings_names_and_allowed_on_its_own(enforced, roles, project):
    """The same calls, on each environment's names: staging's are refused by IAM, dev's reach the service (which
    answers that nothing is there: nothing is deployed)."""
    as_dev = enforced.session(_assume(enforced, roles["dev"], subject(load("dev", project)))["Credentials"])
    state_machine = "arn:aws:states:eu-west-1:123456789012:stateMachine:{}-gb-problem-gambling-retraining"
    calls = {
        "s3:ListBucket": lambda p: as_dev("s3").list_objects_v2(Bucket=f"{p}-data-gambling-behaviour-x"),
        "s3:PutObject": lambda p: as_dev("s3").put_object(Bucket=f"{p}-model-x", Key="k", Body=b"x"),
        "sagemaker:DescribeEndpoint": lambda p: as_dev("sagemaker").describe_endpoint(EndpointName=f"{p}-gb-x"),
        "states:StartExecution": lambda p: as_dev("stepfunctions").start_execution(
            stateMachineArn=state_machine.format(p)
        ),
        "iam:GetRole": lambda p: as_dev("iam").get_role(RoleName=f"{p}-sagemaker"),
        "lambda:GetFunction": lambda p: as_dev("lambda").get_function(FunctionName=f"{p}-predict"),
        "dynamodb:DescribeTable": lambda p: as_dev("dynamodb").describe_table(TableName=f"{p}-runs"),
    }
    denied = {"AccessDenied", "AccessDeniedException"}
    on_staging = {action: _code(lambda call=call: call("vwt-staging")) for action, call in calls.items()}
    on_dev = {action: _code(lambda call=call: call("vwt-dev")) for action, call in calls.items()}
    assert {a for a, code in on_staging.items() if code not in denied} == set(), on_staging
    assert {a for a, code in on_dev.items() if code in denied} == set(), on_dev


def test_acting_as_the_deploy_role_before_bootstrap_names_the_command(enforced, project):
    """The local target acting as the role (VWT_LOCAL_PRINCIPAL=deploy-role): one message, naming bootstrap."""
    target = LocalTarget(load("local", project), project / ".vwt", start=False, principal=DEPLOY_ROLE)
    with pytest.raises(ConfigError) as missing:
        target.ensure_ready()
    assert "the deploy role vwt-local-deploy" in missing.value.message
    assert "`vwt-deploy bootstrap --env local`" in (missing.value.hint or "")


def test_the_role_assumption_is_recorded_for_the_provider(enforced, roles, project):
    _assume(enforced, roles["dev"], subject(load("dev", project)))
    record = json.loads((enforced.manager.dir / "iam" / "access.json").read_text())
    provider = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
    used = {(e["action"], e["resource"]) for e in record[provider] if e["allowed"]}
    assert ("sts:AssumeRoleWithWebIdentity", roles["dev"]) in used
