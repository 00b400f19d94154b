"""Helpers shared by every tier: where the repository is, a throw-away copy of the project, waiting for a
process to end, and the one way to build a boto3 client of an emulator.

More specific helpers live beside this module: `fakes` (a fake process seam), `container` (the image's
code on a SageMaker-style folder), `lambdas` (the prediction Lambda's code and fakes), `emulator` (an
emulator of a test's own, Lambda zips), `stepfunctions` (state machines run on the emulator or moto's
server), `sfn_harness` (rendered state machines in moto's interpreter, SageMaker scripted) and `mermaid`
(diagrams checked by Mermaid's parser, and the drawn flowcharts read back).
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

from vwt_deploy.process import pid_alive

REPO = Path(__file__).resolve().parents[2]
TERRAFORM = REPO / "terraform"
REGION = "eu-west-1"
ACCOUNT = "123456789012"


def lambda_packages_importable() -> None:
    """Put lambdas/ first on sys.path, as the Lambda runtime sees the package: `predict`, `pipeline`."""
    if str(REPO / "lambdas") not in sys.path:
        sys.path.insert(0, str(REPO / "lambdas"))


def model_entry(data: dict, name: str) -> dict:
    """The entry of model `name` in a parsed models.yaml."""
    return next(m for m in data["models"] if m["name"] == name)


def copy_project(folder: Path) -> Path:
    """A copy of the project's inputs (configuration, Terraform, templates, Lambdas, image) in `folder`."""
    for name in ("environments", "terraform", "templates", "lambdas", "containers"):
        src = REPO / name
        if src.exists():
            shutil.copytree(
                src, folder / name, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", "__pycache__")
            )
    rc = REPO / ".vwt" / "terraform.rc"  # written by `make install`: the provider mirror and plugin cache
    if rc.exists():
        (folder / ".vwt").mkdir()
        shutil.copy(rc, folder / ".vwt" / "terraform.rc")
    return folder


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie, exited but not yet reaped, counts as gone): the tool's own check."""
    return pid_alive(pid)


def process_of(emulator, name_part: str) -> int | None:
    """The pid of a live process the emulator's runtime started whose name holds `name_part`, or None."""
    for p in emulator.processes():
        if name_part in p["name"] and alive(p["pid"]):
            return p["pid"]
    return None


def wait_for_process(emulator, name_part: str, limit: float = 60.0) -> int | None:
    """process_of, waited for up to `limit` seconds."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        pid = process_of(emulator, name_part)
        if pid:
            return pid
        time.sleep(0.05)
    return None


def children(pid: int, name: str) -> list[int]:
    """The live child processes of `pid` whose command name is `name` (from /proc: Linux only)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        comm, rest = stat.split("(", 1)[1].rsplit(")", 1)
        if int(rest.split()[1]) == pid and comm == name and alive(int(entry.name)):
            out.append(int(entry.name))
    return out


def gone(pid: int, seconds: float = 5.0) -> bool:
    """Wait up to `seconds` for `pid` to end; True once it has."""
    deadline = time.monotonic() + seconds
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def emulator_clients(url: str) -> Callable:
    """client(service): a boto3 client of the emulator at `url` (test credentials, the project's region)."""
    import boto3

    def client(service: str):
        return boto3.client(
            service, endpoint_url=url, region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test"
        )

    return client
