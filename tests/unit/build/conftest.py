"""Fixtures of the retraining pipeline's tests: the repository's project, copies of it to break, moto."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
LAMBDAS = ROOT / "lambdas"
if str(LAMBDAS) not in sys.path:
    sys.path.insert(0, str(LAMBDAS))  # lambdas/ is the Lambda package root: `pipeline.size`, `pipeline.label`


@pytest.fixture
def project():
    from vwt_deploy.project import Project

    return Project(ROOT)


@pytest.fixture
def project_copy(tmp_path) -> Callable:
    """A copy of the project whose catalogue (and environment files) a test changes.

    make(models=fn, env=("local", fn)) applies fn to the parsed models.yaml / env file and returns the Project.
    """
    from vwt_deploy.project import Project

    def make(models: Callable[[dict], None] | None = None, env: tuple[str, Callable[[dict], None]] | None = None):
        root = tmp_path / "project"
        if not root.exists():
            for sub in ("environments", "templates"):
                shutil.copytree(ROOT / sub, root / sub)
            (root / "terraform").mkdir()
        if models:
            path = root / "environments" / "models.yaml"
            data = yaml.safe_load(path.read_text())
            models(data)
            path.write_text(yaml.safe_dump(data, sort_keys=False))
        if env:
            path = root / "environments" / f"{env[0]}.yaml"
            data = yaml.safe_load(path.read_text())
            env[1](data)
            path.write_text(yaml.safe_dump(data, sort_keys=False))
        return Project(root)

    return make


def model_entry(data: dict, name: str) -> dict:
    return next(m for m in data["models"] if m["name"] == name)


@pytest.fixture
def aws(monkeypatch):
    """moto for every AWS call in the test, with fake credentials and a region."""
    from moto import mock_aws

    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_SESSION_TOKEN": "testing",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield
