"""One emulator per test module (temporary folder, free port, stopped afterwards), and small zip packages."""

from __future__ import annotations

import io
import textwrap
import zipfile

import boto3
import pytest

from vwt_deploy.emulator.manager import Emulator, EmulatorInfo

ROLE = "arn:aws:iam::123456789012:role/lambda-test"


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory):
    """A project's state folder: the emulator runs in <it>/emulator, as for `vwt-deploy up --env local`."""
    return tmp_path_factory.mktemp("state")


@pytest.fixture(scope="module")
def emulator(state_dir) -> EmulatorInfo:
    em = Emulator(state_dir / "emulator")
    info = em.start()
    yield info
    em.stop()


@pytest.fixture(scope="module")
def aws(emulator: EmulatorInfo):
    def client(service: str):
        return boto3.client(service, endpoint_url=emulator.url, region_name="eu-west-1",
                            aws_access_key_id="test", aws_secret_access_key="test")

    return client


def zip_of(files: dict[str, str]) -> bytes:
    """A zip package of the given source files (name -> text)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, textwrap.dedent(text))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def role(aws) -> str:
    iam = aws("iam")
    try:
        return iam.create_role(RoleName="lambda-test", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        return ROLE
