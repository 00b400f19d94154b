"""`terraform fmt -check -recursive` and `terraform validate`, as `vwt-deploy validate` runs them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tests.helpers import REPO
from vwt_deploy.config import load
from vwt_deploy.deploy.validate import validate_project
from vwt_deploy.process import Runner
from vwt_deploy.project import Project


@dataclass(frozen=True)
class _IsolatedProject(Project):
    """The repository's project, with the tool's state folder in a temporary directory."""

    state: Path = Path()
    cli_config_path: Path = Path()

    @property
    def state_dir(self) -> Path:
        return self.state

    @property
    def cli_config(self) -> Path:
        return self.cli_config_path


def test_fmt_and_validate_pass(tmp_path, tf_env):
    project = _IsolatedProject(REPO, tmp_path / "state", Project(REPO).cli_config)
    problems = validate_project(project, load("local", REPO), Runner(sink=lambda line: None))
    assert problems == []


def test_fmt_check_catches_unformatted_files(terraform, tmp_path):
    # the check can fail: a badly formatted copy of a module is reported
    bad = tmp_path / "bad.tf"
    bad.write_text('variable "x" {\ntype=string\n}\n')
    res = terraform("fmt", "-check", "-list=true", str(bad), ok_codes=(0, 3))
    assert res.returncode == 3 and "bad.tf" in res.output
