"""The whole framework working on one machine: up -> data sample -> retrain -> predict -> retrain --tune ->
predict -> the intervention queue -> a refused gate -> a failed training -> down.

Everything is the project's own code run by the emulator's runtime: the pipeline's Lambdas from the deployed
zip, the container's `train` per training job, its `serve` per endpoint, the prediction Lambda behind the local
API address. The first model is made deliberately weak (a one-tree stump, via model_overrides), so that the
tuned model must pass the gate and a later plain retrain must be refused by it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import emulator_clients, gone
from vwt_deploy.emulator.manager import Emulator

pytestmark = pytest.mark.system

MODEL = "gb-problem-gambling"
WEAK = "\nmodel_overrides:\n  gb-problem-gambling:\n    hyperparameters: {no_trees: 1, max_depth: 1}\n"


def cli(project: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "vwt_deploy.cli", "--project-dir", str(project), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def cli_json(project: Path, *args: str, ok: tuple[int, ...] = (0,)) -> dict:
    res = cli(project, *args, "--json")
    assert res.returncode in ok, f"{args}: exit {res.returncode}\n{res.stdout[-2000:]}\n{res.stderr[-3000:]}"
    return json.loads(res.stdout)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    from tests.conftest import copy_project

    root = copy_project(tmp_path_factory.mktemp("runtime"))
    with open(root / "environments" / "local.yaml", "a") as fh:
        fh.write(WEAK)
    yield root
    Emulator(root / ".vwt" / "emulator").stop()


@pytest.fixture(scope="module")
def deployed(project: Path) -> dict:
    res = cli(project, "up", "--env", "local", "--yes", timeout=900)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    status = cli_json(project, "status", "--env", "local")
    info = Emulator(project / ".vwt" / "emulator").running()
    assert info is not None

    return {"status": status, "client": emulator_clients(info.url), "outputs": status["outputs"]}


@pytest.fixture(scope="module")
def first_model(project: Path, deployed: dict) -> dict:
    written = cli_json(project, "data", "sample", "--env", "local", "--rows", "3000", "--seed", "1")
    assert {w["bucket"] for w in written} == {
        "vwt-local-data-before-initial-deposit",
        "vwt-local-data-gambling-behaviour",
    }
    outcome = cli_json(project, "retrain", "--env", "local", "--model", MODEL, "--wait")
    assert outcome["status"] == "SUCCEEDED" and outcome["result"] == "deployed", outcome
    return outcome


def predict(project: Path, n: int = 5, seed: int = 0) -> dict:
    return cli_json(project, "predict", "--env", "local", "--model", MODEL, "--sample", str(n), "--seed", str(seed))


def test_a_trained_model_answers_through_the_api(project: Path, deployed: dict, first_model: dict) -> None:
    job = first_model["training_job"]
    assert first_model["gate"]["reason"].startswith("no production metric")  # the baseline is always replaced
    result = predict(project)
    assert result["model_version"] == job  # the container names its model after the training job
    rows = result["predictions"]
    assert len(rows) == 5 and all(0.0 <= r["prediction"] <= 1.0 and r["risk_group"] for r in rows)
    artifact = deployed["client"]("s3").list_objects_v2(Bucket=f"vwt-local-model-{MODEL}", Prefix=f"training/{job}/")
    assert any(o["Key"].endswith("output/model.tar.gz") for o in artifact.get("Contents", []))


def test_tuning_deploys_a_better_model_while_predictions_keep_answering(
    project: Path, deployed: dict, first_model: dict
) -> None:
    from vwt_deploy.operate.predict import PredictionClient

    outputs = deployed["outputs"]
    key = deployed["client"]("apigateway").get_api_key(apiKey=outputs["api_key_id"], includeValue=True)["value"]
    api = PredictionClient(deployed["status"]["local_api_url"], key)
    record = {
        "user_id": "p-1",
        "deposits_per_week": 3.0,
        "avg_deposit": 50.0,
        "stake_per_day": 40.0,
        "session_minutes": 35.0,
        "night_play_share": 0.4,
        "loss_chasing_ratio": 0.3,
        "cancelled_withdrawals": 1,
        "deposit_limit_changes": 0,
        "days_active": 200,
        "product": "casino",
    }
    seen: dict[str, int] = {}
    failures: list[str] = []
    stop = threading.Event()

    def keep_asking() -> None:
        while not stop.is_set():
            try:
                version = api.predict(MODEL, [record])["model_version"]
                seen[version] = seen.get(version, 0) + 1
            except Exception as exc:  # noqa: BLE001 - every failure is what this test counts
                failures.append(repr(exc))
            time.sleep(0.02)

    asker = threading.Thread(target=keep_asking, daemon=True)
    asker.start()
    try:
        tuned = cli_json(project, "retrain", "--env", "local", "--model", MODEL, "--tune", "--wait")
        time.sleep(0.5)  # a few answers from the new model too
    finally:
        stop.set()
        asker.join(30)
    assert tuned["result"] == "deployed", tuned
    assert tuned["gate"]["new_value"] >= tuned["gate"]["production_value"]
    new_job = tuned["training_job"]
    assert new_job.startswith(tuned["model_name"]) and new_job != first_model["training_job"]
    assert failures == [], failures[:5]
    assert seen.get(first_model["training_job"], 0) > 0 and seen.get(new_job, 0) > 0, seen
    assert predict(project, seed=2)["model_version"] == new_job
    # the tuning job ran several training jobs and reported the best by its objective
    sm = deployed["client"]("sagemaker")
    tuning = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=tuned["model_name"])
    assert tuning["HyperParameterTuningJobStatus"] == "Completed"
    assert tuning["TrainingJobStatusCounters"]["Completed"] >= 2
    assert tuning["BestTrainingJob"]["TrainingJobName"] == new_job


def test_the_intervention_queue_holds_the_risk_events(project: Path, deployed: dict) -> None:
    sqs = deployed["client"]("sqs")
    sqs.purge_queue(QueueUrl=deployed["outputs"]["intervention_queue_url"])  # the events of earlier tests go
    result = predict(project, n=4, seed=3)
    users = {r["user_id"] for r in result["predictions"]}
    events = []
    for _ in range(20):
        got = sqs.receive_message(
            QueueUrl=deployed["outputs"]["intervention_queue_url"], MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", [])
        for message in got:
            body = json.loads(message["Body"])
            events.append(json.loads(body["Message"]) if "Message" in body else body)
        if users <= {e["user_id"] for e in events}:
            break
    mine = [e for e in events if e["user_id"] in users and e["model_version"] == result["model_version"]]
    assert {e["user_id"] for e in mine} == users
    assert all(e["event_type"] == "intervention" and e["model"] == MODEL and e["intervention_level"] for e in mine)


def test_a_refusing_gate_keeps_the_production_model(project: Path, deployed: dict, first_model: dict) -> None:
    """After the tuned model (the test before): the stump is worse, so the gate refuses it."""
    before = predict(project)["model_version"]
    outcome = cli_json(project, "retrain", "--env", "local", "--model", MODEL, "--wait")
    assert outcome["result"] == "kept", outcome  # the stump is worse than the tuned model
    assert outcome["gate"]["new_value"] < outcome["gate"]["production_value"]
    assert "production is kept" in outcome["gate"]["reason"]
    assert predict(project)["model_version"] == before


def test_a_training_job_failing_on_bad_data_fails_the_execution_and_keeps_serving(
    project: Path, deployed: dict
) -> None:
    before = predict(project)["model_version"]
    s3 = deployed["client"]("s3")
    bucket = "vwt-local-data-gambling-behaviour"
    header = s3.get_object(Bucket=bucket, Key="training/synthetic.csv")["Body"].read().split(b"\n", 1)[0].decode()
    columns = header.split(",")
    bad = [
        "lots" if c == "deposits_per_week" else "casino" if c == "product" else "true" if c == "self_excluded" else "1"
        for c in columns
    ]
    s3.put_object(Bucket=bucket, Key="training/bad.csv", Body=(header + "\n" + ",".join(bad) + "\n").encode())
    try:
        res = cli(project, "retrain", "--env", "local", "--model", MODEL, "--wait", "--json")
        assert res.returncode == 1, res.stdout + res.stderr
        outcome = json.loads(res.stdout)
        assert outcome["status"] == "FAILED"
        assert "deposits_per_week" in outcome["cause"], outcome  # the reason reaches the user
    finally:
        s3.delete_object(Bucket=bucket, Key="training/bad.csv")
    assert predict(project)["model_version"] == before


def test_up_after_retraining_changes_nothing_and_keeps_the_new_model(project: Path, deployed: dict) -> None:
    before = predict(project)["model_version"]
    res = cli(project, "up", "--env", "local", "--yes")
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    assert "local is up to date: no changes, nothing applied." in res.stdout  # Terraform never reverts a deployment
    assert predict(project)["model_version"] == before


def test_down_stops_every_process_the_runtime_started(project: Path, deployed: dict) -> None:
    record = project / ".vwt" / "emulator" / "runtime" / "processes.json"
    started = [p["pid"] for p in json.loads(record.read_text())]
    assert started, "the runtime should be running endpoints and Lambda workers"
    emulator_pid = Emulator(project / ".vwt" / "emulator").running().pid
    res = cli(project, "down", "--env", "local", "--yes")
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    assert [p for p in [*started, emulator_pid] if not gone(p, 10)] == []
