"""One emulator (with the local runtime) per test module, in a temporary folder, on a free port; stopped afterwards."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from vwt_deploy.emulator.manager import Emulator, EmulatorInfo


@dataclass
class LocalAws:
    emulator: Emulator
    info: EmulatorInfo

    @property
    def url(self) -> str:
        return self.info.url

    def client(self, service: str):
        return boto3.client(service, endpoint_url=self.url, region_name="eu-west-1",
                            aws_access_key_id="test", aws_secret_access_key="test")

    def processes(self) -> list[dict]:
        """The runtime's record of the processes it started (pid, name)."""
        path = self.emulator.dir / "runtime" / "processes.json"
        return json.loads(path.read_text()) if path.exists() else []


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")


def start_local_aws(folder: Path) -> LocalAws:
    em = Emulator(folder)
    return LocalAws(em, em.start())


@pytest.fixture(scope="module")
def local_aws(tmp_path_factory) -> LocalAws:
    aws = start_local_aws(tmp_path_factory.mktemp("emulator"))
    yield aws
    aws.emulator.stop()
