"""One emulator process per test module, in a temporary folder, on a free port; stopped afterwards."""

from __future__ import annotations

import boto3
import pytest

from vwt_deploy.emulator.manager import Emulator, EmulatorInfo


@pytest.fixture(scope="module")
def emulator(tmp_path_factory) -> EmulatorInfo:
    em = Emulator(tmp_path_factory.mktemp("emulator"))
    info = em.start()
    yield info
    em.stop()


@pytest.fixture(scope="module")
def aws(emulator: EmulatorInfo):
    def client(service: str):
        return boto3.client(service, endpoint_url=emulator.url, region_name="eu-west-1",
                            aws_access_key_id="test", aws_secret_access_key="test")

    return client
