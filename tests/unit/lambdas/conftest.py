"""Fixtures of the Lambda handlers' tests (helpers live in tests/helpers/lambdas.py)."""

from __future__ import annotations

import copy

import pytest

from tests.helpers.lambdas import (
    ENVIRON,
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
