"""The deploy role's committed policy covers what a deployment really calls.

On a project copy of its own: the deploy role's flow (tests/helpers/deployflow.py: up, plan, status, retrain,
predict, down). vwt-deploy and Terraform sign with the deployer's key, and the emulator records the IAM action and
resources of each of their requests; every one must be allowed by environments/deployer-policy.json rendered for
local. When the framework starts calling something new, this fails and names it: derive the policy again
(`make deployer-policy`) and review the diff.
"""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path

import pytest

from tests.helpers import REPO, copy_project
from tests.helpers.deployflow import run_deploy_flow
from vwt_deploy.deploy.deployrole import render_policy
from vwt_deploy.emulator.manager import DEPLOYER, Emulator

pytestmark = pytest.mark.system


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> list[dict]:
    project = copy_project(tmp_path_factory.mktemp("deploy-role"))
    try:
        cli = run_deploy_flow(project)
        report = json.loads(cli("local", "access", "--env", "local", "--principal", DEPLOYER, "--json"))
    finally:
        Emulator(project / ".vwt" / "emulator").stop()
    return report[0]["used"]


def _allowed(policy: dict, action: str, resource: str) -> bool:
    for statement in policy["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in actions) and any(
            fnmatch.fnmatchcase(resource, r) for r in resources
        ):
            return True
    return False


def test_the_committed_policy_allows_every_call_of_a_deployment(recorded: list[dict]) -> None:
    template = (Path(REPO) / "environments" / "deployer-policy.json").read_text()
    policy = json.loads(render_policy(template, "vwt-local", "123456789012", "eu-west-1"))
    assert len(recorded) > 100  # Terraform's own calls are there: the record is real
    missing = sorted(
        {f"{c['action']} on {c['resource']}" for c in recorded if not _allowed(policy, c["action"], c["resource"])}
    )
    assert missing == [], "derive the policy again (`make deployer-policy`) and review it:\n  " + "\n  ".join(missing)
