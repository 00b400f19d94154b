"""Following a run: when the service goes away, one message saying what became of the run, never a traceback;
with --diagram, the path it took drawn on the definition it ran."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from botocore.exceptions import EndpointConnectionError

from tests.helpers import REPO
from tests.helpers.mermaid import read_flowchart
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


class FinishedSfn:
    """Step Functions with one finished run of a two-state machine."""

    definition = {
        "StartAt": "CheckInput",
        "States": {
            "CheckInput": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.mode", "StringEquals": "train", "Next": "Done"}],
                "Default": "Invalid",
            },
            "Done": {"Type": "Succeed"},
            "Invalid": {"Type": "Fail"},
        },
    }

    def describe_state_machine_for_execution(self, executionArn):
        assert executionArn == ARN
        return {"name": "vwt-local-m-retraining", "definition": json.dumps(self.definition)}


def test_the_path_a_run_took_is_drawn_from_the_definition_it_ran(tmp_path):
    deployment = SimpleNamespace(env=load("local", REPO), work=tmp_path / "envs" / "local")
    path = Retrain(deployment, sfn_client=FinishedSfn()).draw(ARN, ["CheckInput", "Done"])
    assert path == tmp_path / "envs" / "local" / "runs" / "run-7.mmd"
    chart = read_flowchart(path.read_text())
    check, done, invalid = (chart.named(n) for n in ("CheckInput", "Done", "Invalid"))
    assert chart.taken == {check, done}
    assert {(chart.edges[i][0], chart.edges[i][3]) for i in chart.link_styles} == {("s0", check), (check, done)}
    assert chart.edge_labels(check, invalid) == [("-->", "default")]
    assert path.read_text().startswith('---\ntitle: "vwt-local-m-retraining: run-7"\n')


@pytest.mark.parametrize("command", ["retrain", "score", "drift"])
def test_diagram_without_wait_is_refused_before_anything_starts(command, tmp_path):
    from click.testing import CliRunner

    from vwt_deploy.cli import main

    result = CliRunner().invoke(main, ["--project-dir", str(tmp_path), command, "--model", "m", "--diagram"])
    assert result.exit_code == 2
    assert "--diagram draws the path the run took, so it needs --wait: add --wait" in result.output


class DeniedSfn(FinishedSfn):
    """A caller whose policy lacks states:DescribeStateMachineForExecution."""

    def describe_state_machine_for_execution(self, executionArn):
        from botocore.exceptions import ClientError

        raise ClientError(
            {"Error": {"Code": "AccessDeniedException", "Message": "not authorized to perform DescribeSMFE"}},
            "DescribeStateMachineForExecution",
        )


def test_a_drawing_that_cannot_be_made_is_said_and_the_outcome_still_reported(tmp_path):
    from vwt_deploy.cli import _drawing

    deployment = SimpleNamespace(env=load("local", REPO), work=tmp_path)
    retrainer = Retrain(deployment, sfn_client=DeniedSfn())
    with pytest.raises(VwtError) as raised:
        retrainer.draw(ARN, ["CheckInput"])
    assert raised.value.message == (
        "cannot draw the path of run-7: AccessDeniedException: not authorized to perform DescribeSMFE"
    )
    assert "states:DescribeStateMachineForExecution" in raised.value.hint
    assert not (tmp_path / "runs").exists()
    output, lines = _drawing(retrainer, ARN, ["CheckInput"])
    assert output == {"diagram_error": raised.value.message}
    assert lines == [f"  no drawing: {raised.value.message} ({raised.value.hint})"]
