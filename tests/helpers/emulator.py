"""An emulator process as the integration tests see it, and Lambda zip packages for its runtime."""

from __future__ import annotations

import io
import json
import textwrap
import zipfile
from dataclasses import dataclass
from pathlib import Path

from vwt_deploy.emulator.manager import Emulator, EmulatorInfo

from . import emulator_clients


@dataclass(frozen=True)
class RunningEmulator:
    """A started emulator: its manager and what it recorded (url, pid, port, boot id)."""

    manager: Emulator
    info: EmulatorInfo

    @property
    def url(self) -> str:
        return self.info.url

    @property
    def state_dir(self) -> Path:
        """The project state folder it serves (`.vwt` of a project: the emulator runs in <it>/emulator)."""
        return self.manager.dir.parent

    @property
    def pid(self) -> int:
        return self.info.pid

    def client(self, service: str):
        return emulator_clients(self.url)(service)

    def session(self, credentials: dict, region: str = "eu-west-1", config=None):
        """A client factory acting with STS `credentials` (AssumeRole's or AssumeRoleWithWebIdentity's)."""
        import boto3

        from vwt_deploy.deploy.targets import session_keys

        def client(service: str):
            return boto3.client(
                service, endpoint_url=self.url, region_name=region, config=config, **session_keys(credentials)
            )

        return client

    def processes(self) -> list[dict]:
        """The runtime's record of the processes it started (pid, name)."""
        path = self.manager.dir / "runtime" / "processes.json"
        return json.loads(path.read_text()) if path.exists() else []

    def stop(self) -> None:
        self.manager.stop()


def start_emulator(folder: Path, iam: str = "off") -> RunningEmulator:
    """Start an emulator whose state lives in `folder` (it inherits this process's environment), with IAM in mode
    `iam`: off for the tests of the runtime's mechanics, which use made-up roles; the enforcement tests and the
    system tier run it enforced, as users do."""
    import os

    from vwt_deploy.emulator.enforcement import MODE_ENV

    manager = Emulator(folder)
    saved = os.environ.get(MODE_ENV)
    os.environ[MODE_ENV] = iam  # the emulator process inherits it
    try:
        return RunningEmulator(manager, manager.start())
    finally:
        if saved is None:
            os.environ.pop(MODE_ENV, None)
        else:
            os.environ[MODE_ENV] = saved


def zip_of(files: dict[str, str]) -> bytes:
    """A zip package of the given source files (name -> text)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, textwrap.dedent(text))
    return buffer.getvalue()
