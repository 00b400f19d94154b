"""Following a run when the service goes away: one message saying what became of the run, never a traceback."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from botocore.exceptions import EndpointConnectionError

from tests.helpers import REPO
from vwt_deploy.config import load
from vwt_deploy.errors import VwtError
from vwt_deploy.operate.retrain import Retrain

ARN = "arn:aws:states:eu-west-1:123456789012:execution:vwt-local-m-retraining:run-7"


class LostSfn:
    """Step Functions that answered once, then went away (the emulator killed, the network gone)."""

    def __init__(self):
        self.calls = 0

    def describe_execution(self, executionArn):
        self.calls += 1
        if self.calls > 1:
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:4566/")
        return {"status": "RUNNING"}

    def get_execution_history(self, **_):
        return {"events": [{"stateEnteredEventDetails": {"name": "CheckInput"}}]}


@pytest.mark.parametrize(
    ("env_name", "available", "says", "hint"),
    [
        (
            "local",
            False,
            "the local emulator stopped while run-7 was running: the run is lost",
            "vwt-deploy up --env local",
        ),
        ("dev", True, f"lost the connection to Step Functions while following {ARN}", "the execution goes on"),
    ],
)
def test_a_lost_service_ends_the_follow_with_what_became_of_the_run(env_name, available, says, hint):
    deployment = SimpleNamespace(env=load(env_name, REPO), target=SimpleNamespace(available=lambda: available))
    entered = []
    with pytest.raises(VwtError) as raised:
        Retrain(deployment, sfn_client=LostSfn()).follow(ARN, entered.append, poll=0)
    assert says in raised.value.message and hint in raised.value.hint
    assert entered == ["CheckInput"]
