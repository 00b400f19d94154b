"""Shared fixtures: a throw-away copy of the project, so tests may edit its configuration."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def repo() -> Path:
    return REPO


def copy_project(tmp_path: Path) -> Path:
    """A copy of the project's inputs (configuration, Terraform, templates, Lambdas, image) in a temporary folder."""
    for name in ("environments", "terraform", "templates", "lambdas", "containers"):
        src = REPO / name
        if src.exists():
            shutil.copytree(src, tmp_path / name, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", "__pycache__"))
    rc = REPO / ".vwt" / "terraform.rc"  # written by `make install`: the provider mirror and plugin cache
    if rc.exists():
        (tmp_path / ".vwt").mkdir()
        shutil.copy(rc, tmp_path / ".vwt" / "terraform.rc")
    return tmp_path


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    """A throw-away copy of the project, so tests may edit its configuration."""
    return copy_project(tmp_path)
