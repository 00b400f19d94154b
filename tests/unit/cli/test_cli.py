"""The CLI, through Click's CliRunner: help, version, exit codes, one readable message per error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from vwt_deploy import __version__
from vwt_deploy.cli import main

COMMANDS = [
    ["validate"],
    ["config", "show"],
    ["plan"],
    ["up"],
    ["down"],
    ["status"],
    ["render"],
    ["build"],
    ["local", "start"],
    ["local", "stop"],
    ["local", "status"],
    ["local", "tick"],
    ["retrain"],
    ["predict"],
    ["data", "sample"],
    ["bootstrap"],
]


def run(*args: str, project: Path | None = None):
    argv = (["--project-dir", str(project)] if project else []) + list(args)
    return CliRunner().invoke(main, argv)


def test_version() -> None:
    res = run("--version")
    assert res.exit_code == 0 and __version__ in res.output


@pytest.mark.parametrize("cmd", COMMANDS, ids=" ".join)
def test_every_command_has_help(cmd: list[str]) -> None:
    res = run(*cmd, "--help")
    assert res.exit_code == 0, res.output
    assert "Usage:" in res.output


def test_env_defaults_to_local(repo: Path) -> None:
    res = run("config", "show", "--json", project=repo)
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["name"] == "local"


def test_config_show_json_has_derived_names(repo: Path) -> None:
    res = run("config", "show", "--env", "prod", "--json", project=repo)
    data = json.loads(res.output)
    assert (
        data["derived"]["buckets"]["data:gambling-behaviour"]
        == "vwt-prod-data-gambling-behaviour-333333333333-eu-west-1"
    )
    assert data["derived"]["endpoints"]["gb-marketing"] == "vwt-prod-gb-marketing"


def test_config_show_yaml(repo: Path) -> None:
    res = run("config", "show", "--env", "dev", project=repo)
    assert res.exit_code == 0 and yaml.safe_load(res.output)["name"] == "dev"


def test_set_override_reaches_the_configuration(repo: Path) -> None:
    res = run("config", "show", "--json", "--set", "api.max_records=10", project=repo)
    assert json.loads(res.output)["api"]["max_records"] == 10


def test_configuration_error_exits_2_without_traceback(project_dir: Path) -> None:
    path = project_dir / "environments/models.yaml"
    data = yaml.safe_load(path.read_text())
    data["models"][0]["algorithm"] = "deep_magic"
    path.write_text(yaml.safe_dump(data))
    res = run("validate", "--skip-terraform", project=project_dir)
    assert res.exit_code == 2
    assert "unknown algorithm 'deep_magic'" in res.output
    assert "Traceback" not in res.output


def test_unknown_environment_exits_2(repo: Path) -> None:
    res = run("plan", "--env", "qa", project=repo)
    assert res.exit_code == 2 and "unknown environment 'qa'" in res.output


def test_validate_configuration_only(repo: Path) -> None:
    res = run("validate", "--env", "prod", "--skip-terraform", "--set", "admin_email=ml@example.com", project=repo)
    assert res.exit_code == 0 and "configuration of prod: ok (4 models)" in res.output


def test_not_a_project(tmp_path: Path) -> None:
    res = run("config", "show", project=tmp_path)
    assert res.exit_code == 2 and "not a vwt-deploy project" in res.output


def test_unexpected_errors_are_one_line_unless_verbose(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import vwt_deploy.config as config

    def boom(*a, **k):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(config, "load", boom)
    res = run("config", "show", project=repo)
    assert res.exit_code == 1 and "unexpected error: RuntimeError: kaboom" in res.output
    assert "Traceback" not in res.output


def test_validate_runs_terraform_fmt_and_validate(project_dir: Path) -> None:
    res = run("validate", project=project_dir)
    assert res.exit_code == 0, res.output
    assert "terraform fmt and validate: ok" in res.output


def test_validate_reports_unformatted_and_invalid_terraform(project_dir: Path) -> None:
    (project_dir / "terraform" / "broken.tf").write_text('resource "aws_s3_bucket" "x" {\nnot_an_argument = 1\n}\n')
    res = run("validate", project=project_dir)
    assert res.exit_code == 1
    assert "not formatted" in res.output and "broken.tf" in res.output
    assert "Unsupported argument" in res.output


@pytest.mark.parametrize(
    ("summary", "code"),
    [({"adds": {"aws_s3_bucket": 1}}, 2), ({}, 0)],
    ids=["changes", "none"],
)
def test_plan_detailed_exitcode_and_markdown_for_ci(repo: Path, monkeypatch, summary: dict, code: int) -> None:
    """A drift check: `plan --detailed-exitcode` exits 2 when the deployment differs from the code, 0 when not;
    `--markdown` is the job summary's table."""
    from vwt_deploy.deploy.pipeline import Deployment
    from vwt_deploy.deploy.terraform import PlanSummary

    monkeypatch.setattr(Deployment, "plan", lambda self, **kw: PlanSummary(**summary))
    res = run("plan", "--env", "local", "--detailed-exitcode", "--markdown", project=repo)
    assert res.exit_code == code, res.output
    assert res.output.startswith("### vwt-deploy plan --env local\n")
    assert ("| add | `aws_s3_bucket` | 1 |" in res.output) == bool(summary)


def test_predict_with_a_token_where_the_environment_takes_none_is_one_message(project_dir: Path) -> None:
    res = run("predict", "--env", "local", "--model", "gb-problem-gambling", "--sample", "1", "--token", "a.b.c",
              project=project_dir)  # fmt: skip
    assert res.exit_code != 0
    assert "local takes no device tokens, so --token has no route to call" in res.output
    assert "api.device_tokens.enabled" in res.output
