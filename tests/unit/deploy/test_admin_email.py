"""staging and prod need admin_email before validate, plan or up: their alarms and approvals must reach a person."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.fakes import FakeRunner
from vwt_deploy.config import load, parse_overrides
from vwt_deploy.deploy.pipeline import Deployment
from vwt_deploy.deploy.targets.aws import AwsTarget
from vwt_deploy.deploy.validate import require_admin_email
from vwt_deploy.errors import ConfigError
from vwt_deploy.project import Project


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_refused_without_admin_email(repo: Path, env: str) -> None:
    with pytest.raises(ConfigError) as exc:
        require_admin_email(load(env, repo))
    assert exc.value.message == (
        f"refusing {env} without admin_email: its alarms and approval requests would reach nobody"
    )
    assert f"set admin_email: <address> in environments/{env}.yaml" in (exc.value.hint or "")
    assert exc.value.exit_code == 2


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_accepted_with_admin_email(repo: Path, env: str) -> None:
    require_admin_email(load(env, repo, parse_overrides(["admin_email=ml@example.com"])))


@pytest.mark.parametrize("env", ["local", "dev"])
def test_local_and_dev_need_none(repo: Path, env: str) -> None:
    assert load(env, repo).admin_email is None
    require_admin_email(load(env, repo))


def test_loading_staging_and_prod_still_works_without_it(repo: Path) -> None:
    # config show, rendering and the contract tests read them: only validate/plan/up refuse
    assert load("staging", repo).admin_email is None and load("prod", repo).admin_email is None


def test_up_refuses_before_anything_runs(project_dir: Path) -> None:
    runner = FakeRunner()

    def no_aws():
        raise AssertionError("the account must not be asked")

    env = load("prod", project_dir)
    d = Deployment(Project(project_dir), env, runner, AwsTarget(env, no_aws))
    with pytest.raises(ConfigError, match="refusing prod without admin_email"):
        d.up(lambda plan: True)
    assert runner.calls == []


@pytest.mark.parametrize("command", ["validate", "plan"])
@pytest.mark.parametrize("env", ["staging", "prod"])
def test_the_cli_refuses_with_one_message(repo: Path, env: str, command: str) -> None:
    from click.testing import CliRunner

    from vwt_deploy.cli import main

    extra = ["--skip-terraform"] if command == "validate" else []
    res = CliRunner().invoke(main, ["--project-dir", str(repo), command, "--env", env, *extra])
    assert res.exit_code == 2, res.output
    assert f"refusing {env} without admin_email" in res.output
    assert f"environments/{env}.yaml" in res.output
    assert "configuration of" not in res.output  # refused before anything is called ok
