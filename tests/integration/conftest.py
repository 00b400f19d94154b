"""One emulator (with the local runtime) per test module, in a temporary folder, on a free port; stopped afterwards."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from vwt_deploy.emulator.manager import Emulator, EmulatorInfo

from ..conftest import emulator_clients


@dataclass
class LocalAws:
    emulator: Emulator
    info: EmulatorInfo

    @property
    def url(self) -> str:
        return self.info.url

    def client(self, service: str):
        return emulator_clients(self.url)(service)

    def processes(self) -> list[dict]:
        """The runtime's record of the processes it started (pid, name)."""
        path = self.emulator.dir / "runtime" / "processes.json"
        return json.loads(path.read_text()) if path.exists() else []


def start_local_aws(folder: Path) -> LocalAws:
    em = Emulator(folder)
    return LocalAws(em, em.start())


@pytest.fixture(scope="module")
def local_aws(tmp_path_factory) -> LocalAws:
    aws = start_local_aws(tmp_path_factory.mktemp("emulator"))
    yield aws
    aws.emulator.stop()
