"""Fixtures of the runtime's Lambda tests: an IAM role on the shared emulator."""

from __future__ import annotations

import pytest

ROLE = "arn:aws:iam::123456789012:role/lambda-test"


@pytest.fixture(scope="session")
def role(emulator_client) -> str:
    iam = emulator_client("iam")
    try:
        return iam.create_role(RoleName="lambda-test", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        return ROLE
