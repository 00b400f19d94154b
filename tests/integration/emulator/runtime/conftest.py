"""Small zip packages and a role for the Lambda runtime tests (the emulator fixtures are tests/conftest.py's)."""

from __future__ import annotations

import io
import textwrap
import zipfile

import pytest

ROLE = "arn:aws:iam::123456789012:role/lambda-test"


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
