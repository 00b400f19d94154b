"""`vwt-deploy retrain`: what the user sees for each outcome and each bad input.

The outcomes run real executions on the project's emulator, of small state machines that end as the
pipeline ends (production kept by the gate, a failed step); the whole pipeline is test_rendered_pipeline.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from tests.helpers import ACCOUNT
from tests.helpers.stepfunctions import write_outputs
from vwt_deploy.cli import main

KEPT_MODEL, FAILING_MODEL = "gb-problem-gambling", "bid-problem-gambling"


def cli(project: Path, *args: str):
    return CliRunner().invoke(main, ["--project-dir", str(project), *args])


def kept_machine(model: str) -> dict:
    return {
        "StartAt": "CheckInput",
        "States": {
            "CheckInput": {
                "Type": "Choice",
                "Choices": [
                    {
                        "And": [
                            {"Variable": "$.model", "StringEquals": model},
                            {"Variable": "$.mode", "StringEquals": "train"},
                        ],
                        "Next": "Train",
                    }
                ],
                "Default": "InvalidInput",
            },
            "InvalidInput": {"Type": "Fail", "Error": "InvalidInput", "Cause": "bad input"},
            "Train": {
                "Type": "Pass",
                "Parameters": {
                    "model.$": "$.model",
                    "mode.$": "$.mode",
                    "job_name": "m-0a1b2c3d",
                    "training": {"job_name": "m-0a1b2c3d", "metric_values": [0.6]},
                },
                "Next": "GateRefused",
            },
            "GateRefused": {
                "Type": "Pass",
                "ResultPath": "$.gate",
                "Next": "Kept",
                "Parameters": {
                    "decision": "keep",
                    "reason": "the challenger is worse than the champion on the same hold-out: the champion is kept",
                    "metric": "validation:auc",
                    "higher_is_better": True,
                    "new_value": 0.6,
                    "champion_value": 0.9,
                },
            },
            "Kept": {"Type": "Succeed"},
        },
    }


def failing_machine() -> dict:
    return {
        "StartAt": "Train",
        "States": {
            "Train": {"Type": "Pass", "Next": "StepFailed"},
            "StepFailed": {
                "Type": "Fail",
                "Error": "StepFailed",
                "Cause": 'States.TaskFailed: {"FailureReason": "AlgorithmError: no data"}',
            },
        },
    }


@pytest.fixture(scope="module")
def deployed(deployed_project):
    root, client = deployed_project
    sfn = client("stepfunctions")
    role = f"arn:aws:iam::{ACCOUNT}:role/pipeline"
    arns = {
        KEPT_MODEL: sfn.create_state_machine(
            name="kept", definition=json.dumps(kept_machine(KEPT_MODEL)), roleArn=role
        )["stateMachineArn"],
        FAILING_MODEL: sfn.create_state_machine(name="failing", definition=json.dumps(failing_machine()), roleArn=role)[
            "stateMachineArn"
        ],
    }
    outputs = {"state_machine_arns": arns, "placeholder_state_machines": []}
    write_outputs(root, outputs)
    return root, client, outputs


def test_wait_follows_the_steps_and_says_production_was_kept(deployed):
    root, client, _ = deployed
    res = cli(root, "retrain", "--model", KEPT_MODEL, "--wait")
    assert res.exit_code == 0, res.output
    assert "  > CheckInput\n  > Train\n  > GateRefused\n  > Kept" in res.output
    assert "production model kept: the new model was not deployed (training job m-0a1b2c3d)" in res.output
    assert "validation:auc = 0.6 (champion on the same hold-out: 0.9)" in res.output
    assert "gate: the challenger is worse than the champion" in res.output


def test_the_execution_gets_the_input_the_pipeline_expects(deployed):
    root, client, outputs = deployed
    res = cli(root, "retrain", "--model", KEPT_MODEL, "--json")
    assert res.exit_code == 0, res.output
    arn = json.loads(res.output)["execution_arn"]
    described = client("stepfunctions").describe_execution(executionArn=arn)
    assert described["stateMachineArn"] == outputs["state_machine_arns"][KEPT_MODEL]
    assert json.loads(described["input"]) == {"model": KEPT_MODEL, "mode": "train"}


def test_a_failed_execution_exits_1_with_its_error_and_cause(deployed):
    root, _, _ = deployed
    res = cli(root, "retrain", "--model", FAILING_MODEL, "--wait")
    assert res.exit_code == 1, res.output
    assert "failed: StepFailed" in res.output and "AlgorithmError: no data" in res.output


def test_json_outcome(deployed):
    root, _, _ = deployed
    res = cli(root, "retrain", "--model", KEPT_MODEL, "--wait", "--json")
    data = json.loads(res.output)
    assert data["result"] == "kept" and data["gate"]["decision"] == "keep" and data["training_job"] == "m-0a1b2c3d"


def test_unknown_model_lists_the_known_ones(deployed):
    root, _, _ = deployed
    res = cli(root, "retrain", "--model", "nope")
    assert res.exit_code == 2
    assert "unknown model 'nope'" in res.output and "gb-marketing" in res.output and "Traceback" not in res.output


def test_a_model_still_on_the_placeholder_says_to_run_up(deployed):
    root, _, outputs = deployed
    write_outputs(root, {**outputs, "placeholder_state_machines": [KEPT_MODEL]})
    try:
        res = cli(root, "retrain", "--model", KEPT_MODEL)
    finally:
        write_outputs(root, outputs)
    assert res.exit_code == 1 and "still the placeholder" in res.output and "vwt-deploy up --env local" in res.output


def test_nothing_deployed_on_the_running_emulator(deployed):
    root, _, outputs = deployed
    (root / ".vwt" / "envs" / "local" / "outputs.json").unlink()
    try:
        res = cli(root, "retrain", "--model", KEPT_MODEL)
    finally:
        write_outputs(root, outputs)
    assert res.exit_code == 2
    assert "local is not deployed" in res.output and "vwt-deploy up --env local" in res.output


def test_no_emulator_running_means_not_deployed(project_dir):
    res = cli(project_dir, "retrain", "--model", KEPT_MODEL, "--wait")
    assert res.exit_code == 2
    assert "local is not deployed: the local emulator is not running" in res.output
    assert not (project_dir / ".vwt" / "emulator" / "server.json").exists()  # nothing was started


def test_tune_needs_a_tuning_section(project_dir):
    path = project_dir / "environments" / "models.yaml"
    data = yaml.safe_load(path.read_text())
    next(m for m in data["models"] if m["name"] == FAILING_MODEL).pop("tuning")
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    res = cli(project_dir, "retrain", "--model", FAILING_MODEL, "--tune")
    assert res.exit_code == 2
    assert f"model {FAILING_MODEL} has no tuning section" in res.output and "without --tune" in res.output
