"""Fixtures of the prediction Lambda's tests (helpers live in lambda_helpers.py)."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest

if str(Path(__file__).parent) not in sys.path:  # lambda_helpers, whatever pytest's import mode
    sys.path.insert(0, str(Path(__file__).parent))

from lambda_helpers import (  # noqa: E402
    ENVIRON,
    REGION,
    TEST_CATALOGUE,
    Catalogue,
    FakeEndpoint,
    FakeSns,
    PredictionService,
)


@pytest.fixture
def catalogue_doc():
    return copy.deepcopy(TEST_CATALOGUE)


@pytest.fixture
def logs():
    return []


@pytest.fixture
def make_service(catalogue_doc, logs):
    def make(sagemaker=None, sns=None, environ=None, doc=None):
        env = dict(ENVIRON)
        env.update(environ or {})
        return PredictionService(
            Catalogue(doc or catalogue_doc),
            env,
            sagemaker=sagemaker or FakeEndpoint(),
            sns=sns if sns is not None else FakeSns(),
            log=logs.append,
        )

    return make


@pytest.fixture
def aws_credentials(monkeypatch):
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
