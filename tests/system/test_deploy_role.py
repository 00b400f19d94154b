"""The proof of the deploy role: a whole deployment's flow runs as it, with IAM enforced.

On a project copy of its own, deployed from a GitHub repository: `bootstrap` (as the administrator) makes the
account's GitHub OIDC provider and the local environment's deploy role with the committed policy
(environments/deployer-policy.json); then every command of the deploy role's flow (tests/helpers/deployflow.py:
up, plan, a release up, status, data sample, retrain, predict, down) acts as that role, as the shipped pipelines do:
a GitHub Actions token from the emulator's issuer, AssumeRoleWithWebIdentity (token, provider and trust checked),
and Terraform and the CLI on that session. Each of their calls is decided by the role's policy. When the framework
starts calling something the policy lacks, the flow fails on AWS's AccessDenied and this names it: derive the
policy again (`make deployer-policy`) and review the diff.
"""

from __future__ import annotations

import json

import pytest

from tests.helpers import copy_project
from tests.helpers.deployflow import run_deploy_flow
from vwt_deploy.emulator.manager import Emulator

pytestmark = pytest.mark.system

ROLE = "arn:aws:iam::123456789012:role/vwt-local-deploy"


@pytest.fixture(scope="module")
def record(tmp_path_factory) -> dict[str, list[dict]]:
    """What each principal was allowed and denied during the flow (the emulator's access record)."""
    project = copy_project(tmp_path_factory.mktemp("deploy-role"))
    emulator = Emulator(project / ".vwt" / "emulator")
    try:
        run_deploy_flow(project, as_deploy_role=True)
        return json.loads((emulator.dir / "iam" / "access.json").read_text())
    finally:
        emulator.stop()


def test_a_deployment_runs_end_to_end_as_the_deploy_role_with_nothing_denied(record: dict[str, list[dict]]) -> None:
    used = record[ROLE]
    denied = sorted(f"{e['action']} on {e['resource']}" for e in used if e["denied"])
    assert denied == [], "derive the policy again (`make deployer-policy`) and review it:\n  " + "\n  ".join(denied)
    actions = {e["action"] for e in used if e["allowed"]}
    # the role itself made and destroyed the deployment: Terraform's creates and deletes were decided for it
    assert {"iam:CreateRole", "iam:PassRole", "sagemaker:CreateEndpoint", "states:CreateStateMachine",
            "s3:DeleteBucket", "kms:ScheduleKeyDeletion", "states:StartExecution"} <= actions  # fmt: skip
    assert len(used) > 500


def test_the_role_was_assumed_with_githubs_token_through_the_accounts_provider(record: dict[str, list[dict]]) -> None:
    provider = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
    assumed = [e for e in record[provider] if e["action"] == "sts:AssumeRoleWithWebIdentity"]
    assert [(e["resource"], e["denied"]) for e in assumed] == [(ROLE, 0)]
    assert assumed[0]["allowed"] >= 8  # once per command of the flow


def test_the_administrator_only_bootstrapped(record: dict[str, list[dict]]) -> None:
    """Beside bootstrap (the state bucket, the provider and the role), the administrator's key made no call: the
    deployment itself is the role's."""
    from vwt_deploy.emulator.manager import DEPLOYER

    services = {e["action"].split(":", 1)[0] for e in record[DEPLOYER]}
    assert services <= {"s3", "iam", "sts", "kms"}, services
    resources = {e["resource"] for e in record[DEPLOYER] if e["action"].startswith("s3:")}
    assert all(r.startswith("arn:aws:s3:::vwt-local-tfstate") for r in resources), resources
    writes = {e["action"] for e in record[DEPLOYER] if e["action"].startswith("iam:") and "Get" not in e["action"]}
    assert writes <= {"iam:CreateOpenIDConnectProvider", "iam:CreateRole", "iam:CreatePolicy", "iam:AttachRolePolicy",
                      "iam:ListOpenIDConnectProviders", "iam:ListAttachedRolePolicies", "iam:TagRole",
                      "iam:TagPolicy", "iam:ListPolicyVersions", "iam:UpdateAssumeRolePolicy"}, writes  # fmt: skip


def test_the_projects_policy_file_is_what_the_role_was_given(record: dict[str, list[dict]]) -> None:
    """The role's identity-based grants came from the committed policy, as bootstrap attached it (the labels name
    the managed policies); the others are resource policies (a key policy, a topic policy)."""
    granted = {label for e in record[ROLE] for label in e["granted_by"] if " policy of " not in label}
    assert granted and all(label.startswith("vwt-local-deploy-") for label in granted), granted
