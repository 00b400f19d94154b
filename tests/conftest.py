"""Shared fixtures: a throw-away copy of the project, so tests may edit its configuration; one emulator per
test module (temporary folder, free port, stopped afterwards) and its clients; `alive(pid)`."""

from __future__ import annotations

import os
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
            shutil.copytree(
                src, tmp_path / name, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", "__pycache__")
            )
    rc = REPO / ".vwt" / "terraform.rc"  # written by `make install`: the provider mirror and plugin cache
    if rc.exists():
        (tmp_path / ".vwt").mkdir()
        shutil.copy(rc, tmp_path / ".vwt" / "terraform.rc")
    return tmp_path


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    """A throw-away copy of the project, so tests may edit its configuration."""
    return copy_project(tmp_path)


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie, exited but not yet reaped, counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:  # no /proc (not Linux): the signal answered
        return True


def gone(pid: int, seconds: float = 5.0) -> bool:
    """Wait up to `seconds` for `pid` to end; True once it has."""
    import time

    deadline = time.monotonic() + seconds
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def emulator_clients(url: str):
    """client(service): a boto3 client of the emulator at `url`."""
    import boto3

    def client(service: str):
        return boto3.client(
            service, endpoint_url=url, region_name="eu-west-1", aws_access_key_id="test", aws_secret_access_key="test"
        )

    return client


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory) -> Path:
    """A project's state folder: the emulator runs in <it>/emulator, as for `vwt-deploy up --env local`."""
    return tmp_path_factory.mktemp("state")


@pytest.fixture(scope="module")
def emulator(state_dir: Path):
    from vwt_deploy.emulator.manager import Emulator

    em = Emulator(state_dir / "emulator")
    info = em.start()
    yield info
    em.stop()


@pytest.fixture(scope="module")
def aws(emulator):
    return emulator_clients(emulator.url)
