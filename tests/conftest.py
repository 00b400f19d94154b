"""Fixtures shared by every tier, one name per meaning (docs/development.md, "Fixtures"):

- `repo`: the repository's folder (a Path);
- `project`: the repository as a `vwt_deploy.project.Project`;
- `project_dir`: a throw-away copy of the project (a Path), so a test may edit its configuration;
- `moto`: moto in this process (`mock_aws`, state machines executed), with fake credentials and the region.

The integration tier adds `emulator` and `emulator_client` (tests/integration/conftest.py). Helpers are
in tests/helpers/.

Scheduling with pytest-xdist (`--dist loadscope`, pytest.ini): the tests of one module share a worker (so
module and session fixtures are built once), and the longest modules start first (the system tier, then the
slow integration modules; `--no-loadscope-reorder` keeps this order), so the run ends with short ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import REGION, REPO, copy_project

# Started first, longest first: a prefix of the test's path (from the repository), in order.
FIRST = (
    "tests/system/",
    "tests/integration/sdk/",
    "tests/integration/emulator/runtime/test_sagemaker.py",
    "tests/terraform/test_checkov.py",
    "tests/integration/emulator/test_manager.py",
    "tests/integration/emulator/runtime/test_stepfunctions_sagemaker.py",
    "tests/terraform/",
)


def _rank(item: pytest.Item) -> int:
    path = item.nodeid.split("::", 1)[0]
    return next((i for i, prefix in enumerate(FIRST) if path.startswith(prefix)), len(FIRST))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=_rank)  # stable: within a rank, the collection order


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def project():
    from vwt_deploy.project import Project

    return Project(REPO)


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    """A throw-away copy of the project, so tests may edit its configuration."""
    return copy_project(tmp_path)


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto for every AWS call of the test (state machines are executed), with fake credentials and a region."""
    from moto import mock_aws

    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield
