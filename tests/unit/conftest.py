"""The unit tier: no emulator process (moto in this process, botocore's Stubber, fakes).

`project_copy(models=fn, env=(name, fn))`: a Project over a copy of the configuration and templates, edited.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable

import pytest
import yaml

from tests.helpers import REPO, lambda_packages_importable

lambda_packages_importable()  # the Lambda handlers' tests and the pipeline's executions import them


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
                shutil.copytree(REPO / sub, root / sub)
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
