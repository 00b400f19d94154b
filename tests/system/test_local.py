"""The whole system on the emulator, as a user runs it: ONE deployment, with the real Terraform, shared by
every test of the system tier. The steps build on each other, so they run in this file's order (one
module: one pytest-xdist worker, with --dist loadscope):

1. `vwt-deploy up --env local` (a first `up` costs about a minute and a half, most of it the AWS provider's
   own waits), and a concurrent `up` refused by the state lock;
2. the deployment, checked as a user would with boto3: buckets encrypted, versioned and private, the rest
   of the framework; `status` shows the API and builds nothing; a second `up` changes nothing;
3. the framework running on it: data sample -> retrain -> predict -> retrain --tune (predictions keep
   answering) -> the intervention queue -> each operator's own feed -> batch scoring (as the API scores) and a
   malformed scoring file -> a refused gate -> a failed training -> `up` after retraining changes nothing.
   Everything is the project's own code run by the emulator's runtime: the pipeline's Lambdas from the
   deployed zip, the container's `train` per training job, its `serve` per endpoint, the prediction Lambda
   behind the local API address. The first model is made deliberately weak (a one-tree
   stump, via model_overrides), so that the tuned model must pass the gate and a later plain retrain must
   be refused by it;
   then the registry (the versions' story, a refused approval, the evaluation report, a rollback while
   predictions keep answering), Ground Truth labelling by the operators' files and by machine, the
   unsupervised model end to end, and last the prod-like approval path (`--set approval=manual`: nothing
   deploys until `models approve`, whose registry event starts the deployment); then the drift checks (no
   captured players, the same players, a shifted population that raises the alarm and starts retraining); then
   faults and their way out (two runs of one model at once; a serve process killed: it heals, and in a crash loop
   the endpoint goes Failed until `up` repairs it);
4. a lost emulator reported, then its rebuild with terraform killed mid-apply: the stale lock, `unlock`, and an
   `up` that adopts what the killed apply created;
5. `down`: it leaves nothing behind and stops every process the runtime started.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from tests.helpers import children, copy_project, emulator_clients, gone, process_of
from tests.helpers.emulator import RunningEmulator
from tests.helpers.mermaid import parse, read_flowchart
from tests.system import framework_calls
from vwt_deploy.emulator.manager import Emulator

pytestmark = pytest.mark.system

MODELS = ("bid-problem-gambling", "gb-problem-gambling", "gb-marketing", "gb-unusual-behaviour")
MODEL = "gb-problem-gambling"
# the drift tests' model: its endpoint sees only representative players before them (MODEL's also answered one
# fixed record thousands of times while predictions kept answering, which is a drifted population of its own)
UNUSUAL = "gb-unusual-behaviour"
SAMPLE_ROWS = 3000
PREDICTION_LATENCY_MS = 2500  # the prediction function's p99 alarm, set in the system tier's local.yaml
WEAK = {"hyperparameters": {"no_trees": 1, "max_depth": 1}}  # gb-problem-gambling's first model: a stump


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


def start_cli(project: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "vwt_deploy.cli", "--project-dir", str(project), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def local_project(tmp_path_factory) -> Path:
    """The system tier's project copy (the weak first model configured); its emulator is stopped at the end."""
    root = copy_project(tmp_path_factory.mktemp("system"))
    path = root / "environments" / "local.yaml"
    local = yaml.safe_load(path.read_text())
    # next to local's own (bid-problem-gambling: Ground Truth); the drift check of UNUSUAL retrains when it fires
    local.setdefault("model_overrides", {})[MODEL] = WEAK
    local["model_overrides"][UNUSUAL] = {"drift": {"retrain": True}}
    local.setdefault("alarms", {})["prediction"] = {"latency_p99_ms": PREDICTION_LATENCY_MS}  # not the default
    local.setdefault("endpoints", {})["capture_percentage"] = 100  # every request captured: drift sees them all
    path.write_text(yaml.safe_dump(local, sort_keys=False))
    yield root
    Emulator(root / ".vwt" / "emulator").stop()


def client(project: Path, service: str):
    info = Emulator(project / ".vwt" / "emulator").running()
    assert info, "the emulator should be running"
    return emulator_clients(info.url)(service)


@pytest.fixture(scope="module")
def first_up(local_project: Path) -> dict:
    """`up --yes`, and while it applies a second `up` on the same environment (it must meet the lock)."""
    first = start_cli(local_project, "up", "--env", "local", "--yes")
    watchdog = threading.Timer(900, first.kill)  # a hung apply fails the test instead of hanging it
    watchdog.start()
    second = None
    lines: list[str] = []
    assert first.stdout is not None
    for line in first.stdout:
        lines.append(line)
        if second is None and "Creating..." in line:  # the first holds the state lock while it applies
            second = cli(local_project, "up", "--env", "local", "--yes")
    first.wait(timeout=60)
    watchdog.cancel()
    return {"code": first.returncode, "output": "".join(lines), "second": second}


# ---------------------------------------------------------------- 1-2. up, and the deployment checked


def test_first_up_deploys(first_up: dict) -> None:
    assert first_up["code"] == 0, first_up["output"][-3000:]
    assert "local is up." in first_up["output"]


def test_a_concurrent_up_meets_the_lock(first_up: dict) -> None:
    second = first_up["second"]
    assert second is not None, "the first up never reached its apply"
    assert second.returncode == 1
    assert "is locked" in second.stderr and "nothing was changed" in second.stderr
    assert "Traceback" not in second.stderr


def test_buckets_are_encrypted_versioned_and_private(local_project: Path, first_up: dict) -> None:
    s3 = client(local_project, "s3")
    names = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    framework = {f"vwt-local-data-{k}" for k in ("before-initial-deposit", "gambling-behaviour")}
    framework |= {f"vwt-local-model-{m}" for m in MODELS}
    assert framework <= names
    for bucket in framework:
        rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
        assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms", bucket
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled", bucket
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert all(block.values()), bucket
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        assert any(
            st.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false" for st in policy["Statement"]
        ), bucket


def test_the_rest_of_the_framework_is_there(local_project: Path, first_up: dict) -> None:
    ecr = client(local_project, "ecr").describe_repositories()["repositories"]
    assert [r["repositoryName"] for r in ecr] == ["vwt-local-sklearn"]
    assert ecr[0]["imageTagMutability"] == "IMMUTABLE" and ecr[0]["imageScanningConfiguration"]["scanOnPush"]

    functions = {f["FunctionName"] for f in client(local_project, "lambda").list_functions()["Functions"]}
    assert "vwt-local-predict" in functions

    api = client(local_project, "apigateway")
    rest = next(a for a in api.get_rest_apis()["items"] if a["name"].startswith("vwt-local"))
    resources = api.get_resources(restApiId=rest["id"], embed=["methods"])["items"]
    predictions = next(r for r in resources if r["path"] == "/v1/models/{model}/predictions")
    assert predictions["resourceMethods"]["POST"]["apiKeyRequired"] is True

    endpoints = {e["EndpointName"] for e in client(local_project, "sagemaker").list_endpoints()["Endpoints"]}
    assert endpoints == {f"vwt-local-{m}" for m in MODELS}

    machines = {m["name"] for m in client(local_project, "stepfunctions").list_state_machines()["stateMachines"]}
    assert len([m for m in machines if m.startswith("vwt-local")]) == len(MODELS)

    rules = client(local_project, "events").list_rules()["Rules"]
    schedules = [r for r in rules if r.get("ScheduleExpression")]
    assert len(schedules) == 3 * len(MODELS)  # retraining, batch scoring and the drift check of each model
    assert {r["Name"] for r in schedules} >= {f"vwt-local-{MODEL}-scoring", f"vwt-local-{MODEL}-drift"}
    assert f"vwt-local-{MODEL}-drift" in {
        a["AlarmName"] for a in client(local_project, "cloudwatch").describe_alarms()["MetricAlarms"]
    }
    assert {"vwt-local-scoring-check", "vwt-local-scoring-publish", "vwt-local-drift"} <= functions
    assert "vwt-local-results" in {b["Name"] for b in client(local_project, "s3").list_buckets()["Buckets"]}

    alarms = client(local_project, "cloudwatch").describe_alarms()["MetricAlarms"]
    assert len(alarms) >= 10
    # the prediction function's own metrics, alarmed per model with the environment file's thresholds
    latency = {a["AlarmName"]: a for a in alarms if a.get("Namespace") == "VWT/Prediction"}
    for model in MODELS:
        alarm = latency[f"vwt-local-predict-{model}-latency-p99"]
        assert alarm["Threshold"] == PREDICTION_LATENCY_MS and alarm["ExtendedStatistic"] == "p99"
        assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {"Environment": "local", "Model": model}

    topics = {t["TopicArn"].rsplit(":", 1)[1] for t in client(local_project, "sns").list_topics()["Topics"]}
    assert {"vwt-local-intervention", "vwt-local-operator"} <= topics
    queues = client(local_project, "sqs").list_queues()["QueueUrls"]
    assert any(q.endswith("vwt-local-intervention") for q in queues)
    assert any(q.endswith("vwt-local-intervention-dlq") for q in queues)


def test_status_shows_the_api_and_builds_nothing(local_project: Path, first_up: dict) -> None:
    built = [local_project / ".vwt" / "envs" / "local" / name for name in ("build", "render")]
    for folder in built:
        shutil.rmtree(folder)
    res = cli(local_project, "status", "--env", "local", "--json")
    assert not any(folder.exists() for folder in built)  # nothing rendered, packaged or built
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["emulator"] == "running" and data["emulator_url"].startswith("http://127.0.0.1:")
    assert data["outputs"]["api_url"] and set(data["outputs"]["endpoint_names"]) == set(MODELS)


def test_second_up_changes_nothing(local_project: Path, first_up: dict) -> None:
    res = cli(local_project, "up", "--env", "local", "--yes")
    assert res.returncode == 0, res.stderr[-3000:]
    assert "local is up to date: no changes, nothing applied." in res.stdout


@pytest.fixture(scope="module")
def deployed(local_project: Path, first_up: dict) -> dict:
    """The deployment as the runtime tests use it: `status`, a client factory of its emulator, the outputs."""
    assert first_up["code"] == 0, first_up["output"][-3000:]
    status = cli_json(local_project, "status", "--env", "local")
    info = Emulator(local_project / ".vwt" / "emulator").running()
    assert info is not None

    return {"status": status, "client": emulator_clients(info.url), "outputs": status["outputs"]}


def test_every_principal_may_make_the_calls_the_framework_makes(deployed: dict) -> None:
    """AWS's decision, by the emulator's IAM evaluator, for each call the framework's principals make (the
    pipeline functions, each state machine, SageMaker with the execution role), from the deployed identity
    policies and the resources' own policies (bucket, key, topic): what a real account would refuse fails here."""
    client, outputs = deployed["client"], deployed["outputs"]
    calls = []
    for model in outputs["model_names"]:
        calls += framework_calls.pipeline_function_calls(client, outputs, model, "training/")
        calls += framework_calls.state_machine_calls(client, outputs, model)
        calls += framework_calls.sagemaker_calls(client, outputs, model, "training/")
        calls += framework_calls.scoring_and_drift_calls(client, outputs, model)
    assert len(calls) > 50
    assert framework_calls.denied(client, calls) == []


@pytest.fixture(scope="module")
def first_model(local_project: Path, deployed: dict) -> dict:
    written = cli_json(local_project, "data", "sample", "--env", "local", "--rows", str(SAMPLE_ROWS), "--seed", "1")
    assert {w["bucket"] for w in written} == {
        "vwt-local-data-before-initial-deposit",
        "vwt-local-data-gambling-behaviour",
    }
    outcome = cli_json(local_project, "retrain", "--env", "local", "--model", MODEL, "--wait", "--diagram")
    assert outcome["status"] == "SUCCEEDED" and outcome["result"] == "deployed", outcome
    return outcome


def predict(local_project: Path, n: int = 5, seed: int = 0) -> dict:
    return cli_json(
        local_project, "predict", "--env", "local", "--model", MODEL, "--sample", str(n), "--seed", str(seed)
    )


# ---------------------------------------------------------------- 3. the framework running on it


def test_a_trained_model_answers_through_the_api(local_project: Path, deployed: dict, first_model: dict) -> None:
    job = first_model["training_job"]
    # the champion was the baseline, scored by the same training job on the same hold-out: a constant, AUC 0.5
    assert first_model["gate"]["champion_value"] == 0.5 and first_model["gate"]["new_value"] > 0.6
    assert first_model["gate"]["reason"] == "the challenger is no worse than the champion on the same hold-out"
    # registered in the model's group, approved by the pipeline (local approves automatically), with its lineage
    sm = deployed["client"]("sagemaker")
    (package,) = sm.list_model_packages(ModelPackageGroupName=f"vwt-local-{MODEL}")["ModelPackageSummaryList"]
    described = sm.describe_model_package(ModelPackageName=package["ModelPackageArn"])
    assert described["ModelApprovalStatus"] == "Approved" and first_model["version"] == "1"
    meta = described["CustomerMetadataProperties"]
    assert meta["training_job"] == job and meta["champion"] == "0.5" and meta["gate_decision"] == "deploy"
    # labelled by the self-exclusion anchor where no operator's label file names the player
    execution = deployed["client"]("stepfunctions").describe_execution(executionArn=first_model["execution_arn"])
    labels = json.loads(execution["output"])["data"]["labels"]
    assert labels["operator"] + labels["anchor"] == SAMPLE_ROWS and 0 < labels["operator"] < SAMPLE_ROWS, labels
    result = predict(local_project)
    assert result["model_version"] == job  # the container names its model after the training job
    rows = result["predictions"]
    assert len(rows) == 5 and all(0.0 <= r["prediction"] <= 1.0 and r["risk_group"] for r in rows)
    artifact = deployed["client"]("s3").list_objects_v2(Bucket=f"vwt-local-model-{MODEL}", Prefix=f"training/{job}/")
    assert any(o["Key"].endswith("output/model.tar.gz") for o in artifact.get("Contents", []))
    # --diagram drew the path the run took on the definition it ran (DescribeStateMachineForExecution)
    drawing = Path(first_model["diagram"])
    assert drawing == local_project / ".vwt/envs/local/runs" / f"{first_model['execution_arn'].rsplit(':', 1)[-1]}.mmd"
    chart = read_flowchart(drawing.read_text())
    entered = [
        e["stateEnteredEventDetails"]["name"]
        for e in deployed["client"]("stepfunctions").get_execution_history(
            executionArn=first_model["execution_arn"], maxResults=1000
        )["events"]
        if "stateEnteredEventDetails" in e
    ]
    assert {chart.named(name) for name in entered} == chart.taken and "Deployed" in entered
    assert parse({"run": drawing.read_text()}) == {"run": None}


@contextlib.contextmanager
def answering(deployed: dict):
    """Predictions asked for all along, from another thread: yields (model versions seen -> count, failures)."""
    from vwt_deploy.operate.predict import PredictionClient

    outputs = deployed["outputs"]
    key = deployed["client"]("apigateway").get_api_key(apiKey=outputs["api_key_ids"]["northbet"], includeValue=True)[
        "value"
    ]
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
            except Exception as exc:  # noqa: BLE001 - every failure is what the tests count
                failures.append(repr(exc))
            time.sleep(0.02)

    asker = threading.Thread(target=keep_asking, daemon=True)
    asker.start()
    try:
        yield seen, failures
        time.sleep(0.5)  # a few answers from the new model too
    finally:
        stop.set()
        asker.join(30)


def test_tuning_deploys_a_better_model_while_predictions_keep_answering(
    local_project: Path, deployed: dict, first_model: dict
) -> None:
    with answering(deployed) as (seen, failures):
        tuned = cli_json(local_project, "retrain", "--env", "local", "--model", MODEL, "--tune", "--wait")
    assert tuned["result"] == "deployed", tuned
    assert tuned["gate"]["new_value"] >= tuned["gate"]["champion_value"] and tuned["version"] == "2"
    new_job = tuned["training_job"]
    assert new_job.startswith(tuned["model_name"]) and new_job != first_model["training_job"]
    assert failures == [], failures[:5]
    assert seen.get(first_model["training_job"], 0) > 0 and seen.get(new_job, 0) > 0, seen
    assert predict(local_project, seed=2)["model_version"] == new_job
    # the tuning job ran several training jobs and reported the best by its objective
    sm = deployed["client"]("sagemaker")
    tuning = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=tuned["model_name"])
    assert tuning["HyperParameterTuningJobStatus"] == "Completed"
    assert tuning["TrainingJobStatusCounters"]["Completed"] >= 2
    assert tuning["BestTrainingJob"]["TrainingJobName"] == new_job


def test_the_intervention_queue_holds_the_risk_events(local_project: Path, deployed: dict) -> None:
    sqs = deployed["client"]("sqs")
    sqs.purge_queue(QueueUrl=deployed["outputs"]["intervention_queue_url"])  # the events of earlier tests go
    result = predict(local_project, n=4, seed=3)
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
    assert {e["operator_id"] for e in mine} == {"northbet"}  # the CLI's default: the catalogue's first operator


def _drain(sqs, url: str) -> list[dict]:
    """Every message of a queue (raw delivery), deleted as it is read."""
    out: list[dict] = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        if not got:
            return out
        for message in got:
            out.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_each_operator_receives_only_its_own_players_predictions(local_project: Path, deployed: dict) -> None:
    """Two operators, each with its own API key: the marketing model's events reach only the asking operator's
    queue (an SNS filter policy on operator_id), and a key the usage plans do not know is refused."""
    sqs, outputs = deployed["client"]("sqs"), deployed["outputs"]
    queues = outputs["operator_queue_urls"]
    assert set(queues) == set(outputs["api_key_ids"]) == {"northbet", "lucky-lane"}
    for url in queues.values():
        sqs.purge_queue(QueueUrl=url)
    asked = {}
    for operator, seed in (("northbet", 4), ("lucky-lane", 5)):
        result = cli_json(
            local_project, "predict", "--env", "local", "--model", "gb-marketing", "--sample", "3",
            "--seed", str(seed), "--operator", operator,
        )  # fmt: skip
        asked[operator] = {r["user_id"] for r in result["predictions"]}
    held = {operator: _drain(sqs, url) for operator, url in queues.items()}
    for operator, events in held.items():
        assert {e["operator_id"] for e in events} == {operator}, events
        assert {e["user_id"] for e in events} == asked[operator]
        assert all(e["event_type"] == "prediction" and e["schema_version"] == "1.0" for e in events)
    # the gateway refuses a key no usage plan holds, before the Lambda runs
    status, _ = _post(deployed["status"]["local_api_url"] + "/v1/models/gb-marketing/predictions", "no-such-key", {})
    assert status == 403


def _post(url: str, key: str, body: dict) -> tuple[int, dict]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"x-api-key": key, "Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - the emulator on 127.0.0.1
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def _players(deployed: dict, model: str, operator: str) -> list[str]:
    """The lines of an operator's scoring file (headerless: user_id, then the model's features in training order)."""
    body = deployed["client"]("s3").get_object(
        Bucket="vwt-local-data-gambling-behaviour", Key=f"scoring/{model}/{operator}/players.csv"
    )["Body"]
    return body.read().decode().splitlines()


def test_batch_scoring_scores_every_player_as_the_api_does(local_project: Path, deployed: dict, tmp_path: Path) -> None:
    """`vwt-deploy score`: a Batch Transform job runs the container's serving code over every player of the
    scoring prefix; the publish step maps the scores as the API does. The counts per risk group equal what the API
    answers for the same players, each operator's results file holds its players, and its events name it."""
    from vwt_deploy.config import load

    outcome = cli_json(local_project, "score", "--env", "local", "--model", MODEL, "--wait")
    assert outcome["status"] == "SUCCEEDED" and outcome["result"] == "scored", outcome
    assert outcome["records"] == SAMPLE_ROWS
    assert {op: c["records"] for op, c in outcome["operators"].items()} == {
        "northbet": SAMPLE_ROWS // 2,
        "lucky-lane": SAMPLE_ROWS // 2,
    }
    s3 = deployed["client"]("s3")
    results = {}
    for operator in ("northbet", "lucky-lane"):
        (uri,) = [u for u in outcome["results"] if f"/{operator}/" in u]
        bucket, key = uri[len("s3://") :].split("/", 1)
        rows = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines()
        assert rows[0] == "user_id,score,risk_group,intervention_level,model_version"
        results[operator] = {r.split(",")[0]: r.split(",") for r in rows[1:]}
        assert len(results[operator]) == SAMPLE_ROWS // 2
    # the API's answers for the same players: the same group for each, so the same counts per group
    features = [f.name for f in load("local", local_project).catalogue.model(MODEL).features]
    lines = _players(deployed, MODEL, "northbet")
    path = tmp_path / "players.csv"
    path.write_text("user_id," + ",".join(features) + "\n" + "\n".join(lines) + "\n")
    api = cli_json(local_project, "predict", "--env", "local", "--model", MODEL, "--input", str(path))
    batch = results["northbet"]
    assert {p["user_id"]: p["risk_group"] for p in api["predictions"]} == {u: r[2] for u, r in batch.items()}
    counts = {g: sum(1 for p in api["predictions"] if p["risk_group"] == g) for g in outcome["operators"]["northbet"]}
    counts["records"] = len(api["predictions"])
    assert counts == outcome["operators"]["northbet"]
    assert all(abs(p["prediction"] - float(batch[p["user_id"]][1])) < 1e-6 for p in api["predictions"])
    assert {r[4] for r in batch.values()} == {api["model_version"]}


def test_bad_players_fail_scoring_with_their_lines_and_publish_nothing(local_project: Path, deployed: dict) -> None:
    s3, sqs = deployed["client"]("s3"), deployed["client"]("sqs")
    queue = deployed["outputs"]["operator_queue_urls"]["northbet"]
    _drain(sqs, queue)  # not PurgeQueue: SQS allows one a minute per queue, and the operators' test just purged
    good = _players(deployed, "gb-marketing", "northbet")[0]
    bad = good.split(",")
    bad[1] = "lots"  # deposits_per_week
    key = "scoring/gb-marketing/northbet/late-upload.csv"
    s3.put_object(Bucket="vwt-local-data-gambling-behaviour", Key=key, Body=f"{good}\n{','.join(bad)}\n".encode())
    try:
        outcome = cli_json(local_project, "score", "--env", "local", "--model", "gb-marketing", "--wait", ok=(1,))
    finally:
        s3.delete_object(Bucket="vwt-local-data-gambling-behaviour", Key=key)
    assert outcome["status"] == "FAILED", outcome
    assert f"s3://vwt-local-data-gambling-behaviour/{key} line 2" in outcome["cause"]
    assert (
        "deposits_per_week must be a number" in outcome["cause"]
        and "nothing was scored or published" in outcome["cause"]
    )
    assert _drain(sqs, queue) == []
    listed = s3.list_objects_v2(Bucket="vwt-local-results", Prefix="northbet/gb-marketing/").get("Contents", [])
    assert listed == []


def test_a_refusing_gate_keeps_the_production_model(local_project: Path, deployed: dict, first_model: dict) -> None:
    """After the tuned model (the test before): the stump is worse, so the gate refuses it."""
    before = predict(local_project)["model_version"]
    outcome = cli_json(local_project, "retrain", "--env", "local", "--model", MODEL, "--wait")
    assert outcome["result"] == "kept", outcome  # the stump is worse than the tuned model
    assert outcome["gate"]["new_value"] < outcome["gate"]["champion_value"]  # both on this run's hold-out
    assert "the champion is kept" in outcome["gate"]["reason"]
    rejected = deployed["client"]("sagemaker").describe_model_package(
        ModelPackageName=f"arn:aws:sagemaker:eu-west-1:123456789012:model-package/vwt-local-{MODEL}/{outcome['version']}"
    )
    assert rejected["ModelApprovalStatus"] == "Rejected"
    assert predict(local_project)["model_version"] == before


def test_a_training_job_failing_on_bad_data_fails_the_execution_and_keeps_serving(
    local_project: Path, deployed: dict
) -> None:
    before = predict(local_project)["model_version"]
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
        res = cli(local_project, "retrain", "--env", "local", "--model", MODEL, "--wait", "--json")
        assert res.returncode == 1, res.stdout + res.stderr
        outcome = json.loads(res.stdout)
        assert outcome["status"] == "FAILED"
        assert "deposits_per_week" in outcome["cause"], outcome  # the reason reaches the user
    finally:
        s3.delete_object(Bucket=bucket, Key="training/bad.csv")
    assert predict(local_project)["model_version"] == before


def test_up_after_retraining_changes_nothing_and_keeps_the_new_model(local_project: Path, deployed: dict) -> None:
    before = predict(local_project)["model_version"]
    res = cli(local_project, "up", "--env", "local", "--yes")
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    assert "local is up to date: no changes, nothing applied." in res.stdout  # Terraform never reverts a deployment
    assert predict(local_project)["model_version"] == before


# ---------------------------------------------------------------- the registry: history, rollback, approval


def test_the_registry_tells_each_versions_story(local_project: Path, deployed: dict, tmp_path: Path) -> None:
    """After the runs above: 1 (the first model), 2 (tuned, serving), 3 (refused by the gate); the failed runs
    registered nothing."""
    rows = cli_json(local_project, "models", "list", "--env", "local", "--model", MODEL)
    assert [(r["version"], r["status"], r["serving"]) for r in rows] == [
        (3, "Rejected", False),
        (2, "Approved", True),
        (1, "Approved", False),
    ]
    shown = cli_json(
        local_project, "models", "show", "--env", "local", "--model", MODEL, "--version", "2", "--report", str(tmp_path)
    )
    assert shown["lineage"]["training_job"] == predict(local_project)["model_version"]
    assert shown["lineage"]["mode"] == "tune" and shown["lineage"]["data_location"].startswith("s3://")
    assert float(shown["metrics"]["value"]) >= float(shown["metrics"]["champion_value"])
    assert shown["gate"]["decision"] == "deploy" and shown["approval"]["by"] == "auto by the pipeline"
    assert set(shown["hyperparameters"]) >= {"no_trees", "max_depth"}
    page = Path(shown["report_page"])  # the training job's evaluation report, fetched from beside its model
    assert page.read_text().startswith("<!") and (page.parent / "report.json").exists()
    refused = cli(local_project, "models", "approve", "--env", "local", "--model", MODEL, "--version", "3")
    assert refused.returncode == 1 and "failed the gate, so it cannot be approved" in refused.stderr


def test_rollback_returns_the_previous_version_while_predictions_keep_answering(
    local_project: Path, deployed: dict, first_model: dict
) -> None:
    before = predict(local_project)["model_version"]
    with answering(deployed) as (seen, failures):
        rolled = cli_json(local_project, "models", "rollback", "--env", "local", "--model", MODEL, "--wait")
    assert rolled["result"] == "deployed" and rolled["version"] == "1", rolled
    assert failures == [], failures[:5]
    assert seen.get(before, 0) > 0 and seen.get(first_model["training_job"], 0) > 0, seen
    assert predict(local_project)["model_version"] == first_model["training_job"]
    again = cli(local_project, "models", "rollback", "--env", "local", "--model", MODEL)
    assert again.returncode == 1 and "no approved version older than what serves now (version 1)" in again.stderr


def test_ground_truth_labels_a_model_locally_by_people_and_by_machine(local_project: Path, deployed: dict) -> None:
    """bid-problem-gambling labels with Ground Truth here (local.yaml): the operators' label files are the work
    team's answers, and from automated_min_objects data points a model labels what it is sure of."""
    model = "bid-problem-gambling"
    outcome = cli_json(local_project, "retrain", "--env", "local", "--model", model, "--wait")
    assert outcome["status"] == "SUCCEEDED" and outcome["result"] in ("deployed", "kept"), outcome
    client = deployed["client"]
    output = json.loads(client("stepfunctions").describe_execution(executionArn=outcome["execution_arn"])["output"])
    job = client("sagemaker").describe_labeling_job(LabelingJobName=output["job_name"])
    counts = job["LabelCounters"]
    assert job["LabelingJobStatus"] == "Completed"
    assert counts["HumanLabeled"] > 0 and counts["MachineLabeled"] > 0 and counts["Unlabeled"] > 0, counts
    assert counts["HumanLabeled"] + counts["MachineLabeled"] + counts["Unlabeled"] == SAMPLE_ROWS
    assert counts["TotalLabeled"] == counts["HumanLabeled"] + counts["MachineLabeled"]
    assert output["data"]["rows"] == counts["TotalLabeled"]  # the players no one labelled are left out


def test_the_unsupervised_model_trains_gates_deploys_and_predicts(local_project: Path, deployed: dict) -> None:
    """gb-unusual-behaviour needs no label: its gate is its anomaly score's AUC against the self-exclusion anchor,
    the baseline champion's (a constant) 0.5 on the same rows."""
    model = "gb-unusual-behaviour"
    outcome = cli_json(local_project, "retrain", "--env", "local", "--model", model, "--wait")
    assert outcome["result"] == "deployed", outcome
    gate = outcome["gate"]
    assert gate["metric"] == "validation:anchor_auc" and gate["champion_value"] == 0.5
    assert gate["new_value"] >= 0.65  # the catalogue's floor
    result = cli_json(local_project, "predict", "--env", "local", "--model", model, "--sample", "5")
    assert result["model_version"] == outcome["training_job"]
    assert len(result["predictions"]) == 5 and all(0.0 < r["prediction"] <= 1.0 for r in result["predictions"])


def test_the_prod_like_path_deploys_nothing_until_a_person_approves(local_project: Path, deployed: dict) -> None:
    """approval=manual (as staging and prod): the version waits as PendingManualApproval; `models approve`
    changes its status, SageMaker's state-change event reaches the EventBridge rule Terraform made, and the
    rule starts the deployment as its own role."""
    manual = ("--set", "approval=manual")
    res = cli(local_project, "up", "--env", "local", "--yes", *manual)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    serving = predict(local_project)["model_version"]
    outcome = cli_json(local_project, "retrain", "--env", "local", "--model", MODEL, "--wait", *manual)
    assert outcome["result"] == "awaiting approval", outcome  # the same stump as the serving one: a tie passes
    version = outcome["version"]
    assert predict(local_project)["model_version"] == serving  # nothing deployed
    pending = cli_json(local_project, "models", "show", "--env", "local", "--model", MODEL, "--version", version)
    assert pending["status"] == "PendingManualApproval" and pending["approval"]["by"].startswith("nobody yet")
    approved = cli_json(
        local_project,
        "models",
        "approve",
        "--env",
        "local",
        "--model",
        MODEL,
        "--version",
        version,
        "--reason",
        "risk team review",
        "--wait",
        *manual,
    )
    assert approved["status"] == "SUCCEEDED" and approved["result"] == "deployed", approved
    assert approved["version"] == version
    assert predict(local_project)["model_version"] == outcome["training_job"]
    shown = cli_json(local_project, "models", "show", "--env", "local", "--model", MODEL, "--version", version)
    assert shown["serving"] and shown["approval"]["by"].endswith("with vwt-deploy: risk team review")


MANUAL = ("--set", "approval=manual")  # the environment as the prod-like test left it


def _drift_alarm(deployed: dict, model: str) -> dict:
    alarms = deployed["client"]("cloudwatch").describe_alarms(AlarmNames=[f"vwt-local-{model}-drift"])
    return alarms["MetricAlarms"][0]


def _captured_since(deployed: dict, model: str, since: float) -> int:
    objects = (
        deployed["client"]("s3")
        .list_objects_v2(Bucket=f"vwt-local-model-{model}", Prefix=f"data-capture/vwt-local-{model}/")
        .get("Contents", [])
    )
    return sum(1 for o in objects if o["LastModified"].timestamp() >= since)


def test_a_drift_check_without_captured_players_says_so_and_does_not_alarm(local_project: Path, deployed: dict) -> None:
    model = "bid-problem-gambling"  # asked for no prediction in this run: its endpoint captured nothing
    outcome = cli_json(local_project, "drift", "--env", "local", "--model", model, "--wait", *MANUAL)
    assert outcome["status"] == "SUCCEEDED" and outcome["result"] == "drift checked", outcome
    assert (
        outcome["drift"]["status"] == "no_data"
        and "no captured requests in the last 24 hours" in outcome["drift"]["message"]
    )
    assert _drift_alarm(deployed, model)["StateValue"] != "ALARM"


def _predict_many(local_project: Path, model: str, seeds: tuple[int, ...], n: int) -> None:
    for seed in seeds:
        cli_json(local_project, "predict", "--env", "local", "--model", model, "--sample", str(n), "--seed", str(seed))


def _wait_for_capture(deployed: dict, model: str, since: float) -> None:
    deadline = time.time() + 60
    while _captured_since(deployed, model, since) == 0:  # the endpoint writes its capture a file at a time
        assert time.time() < deadline, "no capture file was written"
        time.sleep(1)
    time.sleep(6)  # the last requests' file (the endpoint flushes its capture every 5 s)


def test_the_same_players_do_not_drift(local_project: Path, deployed: dict) -> None:
    started = time.time()
    _predict_many(local_project, UNUSUAL, (11, 12), 500)  # drawn from the data the serving model was trained on
    _wait_for_capture(deployed, UNUSUAL, started)
    outcome = cli_json(local_project, "drift", "--env", "local", "--model", UNUSUAL, "--wait", *MANUAL)
    assert outcome["status"] == "SUCCEEDED" and outcome["drift"]["status"] == "checked", outcome
    drift = outcome["drift"]
    assert drift["records"] >= 1000 and drift["max_feature_psi"] < 0.1, outcome
    assert drift["drifted"] is False and drift["retraining"] is None
    assert _drift_alarm(deployed, UNUSUAL)["StateValue"] == "OK"


def test_a_shifted_population_raises_the_drift_alarm_and_starts_retraining(local_project: Path, deployed: dict) -> None:
    written = cli_json(
        local_project, "data", "sample", "--env", "local", "--rows", str(SAMPLE_ROWS), "--seed", "7",
        "--bucket", "gambling-behaviour", "--shift",
    )  # fmt: skip
    assert written
    started = time.time()
    _predict_many(local_project, UNUSUAL, (21, 22, 23), 1000)  # drawn from the shifted players
    _wait_for_capture(deployed, UNUSUAL, started)
    outcome = cli_json(local_project, "drift", "--env", "local", "--model", UNUSUAL, "--wait", *MANUAL)
    assert outcome["status"] == "SUCCEEDED" and outcome["drift"]["drifted"] is True, outcome
    assert outcome["drift"]["max_feature_psi"] >= 0.25
    alarm = _drift_alarm(deployed, UNUSUAL)
    assert alarm["StateValue"] == "ALARM" and "Threshold Crossed" in alarm["StateReason"]
    # the catalogue (model_overrides) asks to retrain on drift: the pipeline ran, on the shifted data
    sfn = deployed["client"]("stepfunctions")
    retraining = outcome["drift"]["retraining"]
    deadline = time.time() + 600
    while (run := sfn.describe_execution(executionArn=retraining))["status"] == "RUNNING":
        assert time.time() < deadline, "the retraining started by the drift check did not end"
        time.sleep(2)
    assert run["status"] == "SUCCEEDED" and json.loads(run["input"]) == {"model": UNUSUAL, "mode": "train"}
    overview = cli_json(local_project, "status", "--env", "local")["overview"]["models"]
    assert overview[UNUSUAL]["last_drift_check"]["status"] == "SUCCEEDED"
    assert overview[UNUSUAL]["last_training"]["execution"] == retraining.rsplit(":", 1)[-1]
    assert f"vwt-local-{UNUSUAL}-drift" in overview[UNUSUAL]["alarms"]
    assert overview[MODEL]["last_scoring"]["status"] == "SUCCEEDED"
    assert overview[MODEL]["serving"]["version"] not in (None, "baseline")


# ---------------------------------------------------------------- faults and their way out


def test_two_runs_of_one_model_the_second_ends_at_once_naming_the_first(local_project: Path, deployed: dict) -> None:
    """A manual run and a scheduled one together: the first claims the model (the runs table, with IAM enforced
    on the state machine's role); the second ends at once, RunInProgress, naming the first, and changes nothing."""
    first = cli_json(local_project, "retrain", "--env", "local", "--model", MODEL, *MANUAL)["execution_arn"]
    res = cli(local_project, "retrain", "--env", "local", "--model", MODEL, "--wait", "--json", *MANUAL)
    assert res.returncode == 1, res.stdout + res.stderr
    second = json.loads(res.stdout)
    assert second["status"] == "FAILED" and second["error"] == "RunInProgress", second
    assert second["cause"] == f"another run of this model is in progress: {first}"
    sfn = deployed["client"]("stepfunctions")
    deadline = time.time() + 600
    while (run := sfn.describe_execution(executionArn=first))["status"] == "RUNNING":
        assert time.time() < deadline, "the first run did not end"
        time.sleep(2)
    assert run["status"] == "SUCCEEDED", run  # the first run ran as if alone (here: awaiting a person's approval)
    history = sfn.get_execution_history(executionArn=second["execution_arn"], maxResults=1000)["events"]
    entered = {e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e}
    assert not entered & {"Train", "CreateModel", "UpdateEndpoint"}, entered  # the second one changed nothing


def _data_objects(deployed: dict) -> dict[str, list[tuple[str, str]]]:
    """Every object (key, ETag) of the data buckets: what a fault and its recovery must leave as it was."""
    s3 = deployed["client"]("s3")
    buckets = [b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith("vwt-local-data-")]
    return {
        b: sorted((o["Key"], o["ETag"]) for page in s3.get_paginator("list_objects_v2").paginate(Bucket=b)
                  for o in page.get("Contents", []))
        for b in buckets
    }  # fmt: skip


def _predicts_again(local_project: Path, limit: float = 90) -> dict:
    deadline = time.time() + limit
    while (
        res := cli(local_project, "predict", "--env", "local", "--model", MODEL, "--sample", "3", "--json")
    ).returncode:
        assert time.time() < deadline, res.stdout[-1000:] + res.stderr[-1000:]
        time.sleep(1)
    return json.loads(res.stdout)


def test_a_killed_serve_process_heals_and_up_repairs_a_failed_endpoint(local_project: Path, deployed: dict) -> None:
    """kill -9 of the endpoint's serve process: it is replaced and predictions answer again, with no command run.
    Killed in a loop (a 4th death within 5 minutes), the endpoint goes Failed; `up` creates it again with the model
    it served, and its auto scaling is registered again. Nothing in the data buckets is lost."""
    import os
    import signal

    manager = Emulator(local_project / ".vwt" / "emulator")
    info = manager.running()
    assert info is not None
    emulator = RunningEmulator(manager, info)
    sm, scaling = deployed["client"]("sagemaker"), deployed["client"]("application-autoscaling")
    endpoint = f"vwt-local-{MODEL}"
    serving = predict(local_project)["model_version"]
    data = _data_objects(deployed)
    for death in (1, 2, 3, 4):
        pid = process_of(emulator, f"endpoint {endpoint} ")
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        if death < 4:  # replaced: it answers again, no command run
            assert _predicts_again(local_project)["model_version"] == serving
            assert sm.describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "InService"
    deadline = time.time() + 60
    while (described := sm.describe_endpoint(EndpointName=endpoint))["EndpointStatus"] != "Failed":
        assert time.time() < deadline, described
        time.sleep(0.5)
    assert "4 times within 300 s" in described["FailureReason"]
    assert predict_fails(local_project)

    res = cli(local_project, "up", "--env", "local", "--yes", *MANUAL)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    assert f"endpoint {endpoint} is Failed (" in res.stdout and f"endpoint {endpoint} is InService again" in res.stdout
    assert described["EndpointConfigName"] in res.stdout
    assert "local is up." in res.stdout  # the apply registered the endpoint's auto scaling again
    assert sm.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"] == described["EndpointConfigName"]
    assert predict(local_project)["model_version"] == serving
    targets = scaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    assert f"endpoint/{endpoint}/variant/AllTraffic" in {x["ResourceId"] for x in targets}
    assert _data_objects(deployed) == data


def predict_fails(local_project: Path) -> bool:
    res = cli(local_project, "predict", "--env", "local", "--model", MODEL, "--sample", "1")
    return res.returncode != 0 and "Traceback" not in res.stderr


# ---------------------------------------------------------------- IAM, enforced as AWS enforces it


def test_the_run_was_enforced_and_no_principal_was_refused(local_project: Path, deployed: dict) -> None:
    """Everything above ran with IAM enforced (the default): every request of a Lambda function, a state machine,
    SageMaker and EventBridge was decided for its own role, and none was refused."""
    emulator = Emulator(local_project / ".vwt" / "emulator")
    assert emulator.health(emulator.running())["iam"] == "enforce"
    denials = local_project / ".vwt" / "emulator" / "iam" / "denials.jsonl"
    assert not denials.exists(), denials.read_text()[-3000:]
    report = {r["role"]: r for r in cli_json(local_project, "local", "access")}
    used = {(role, u["action"]) for role, r in report.items() for u in r["used"]}
    prefix = "arn:aws:iam::123456789012:role/vwt-local-"
    assert (f"{prefix}sagemaker", "s3:GetObject") in used  # the training job's channels
    assert (f"{prefix}sagemaker", "ecr:BatchGetImage") in used  # the image's pull
    assert any(role.endswith("-pipeline-size-lambda") and a == "s3:GetObject" for role, a in used)
    assert any(a == "sagemaker:CreateTrainingJob" for _, a in used)  # a state machine's role
    assert any(a == "sagemaker:InvokeEndpoint" for _, a in used)  # the prediction function's role
    assert ("apigateway.amazonaws.com", "lambda:InvokeFunction") in used  # the function's resource policy


@contextlib.contextmanager
def without_statement(project: Path, role: str, sid: str):
    """The role's inline policy without statement `sid` (as a Terraform apply of the edited policy leaves it);
    put back afterwards."""
    iam = client(project, "iam")
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        kept = [st for st in document["Statement"] if st.get("Sid") != sid]
        if len(kept) < len(document["Statement"]):
            break
    else:
        raise AssertionError(f"no statement {sid} in the inline policies of {role}")
    iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps({**document, "Statement": kept}))
    try:
        yield
    finally:
        iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(document))


@pytest.mark.parametrize(
    ("role", "sid", "refused"),
    [
        (
            "vwt-local-sagemaker",
            "ReadAndWriteModels",  # the training channels: the labelled copy in the model bucket
            "assumed-role/vwt-local-sagemaker/SageMaker is not authorized to perform: s3:GetObject",
        ),
        ("vwt-local-pipeline-size-lambda", "ReadTheData", "is not authorized to perform: s3:GetObject"),
    ],
    ids=["sagemaker-execution-role", "size-function"],
)
def test_a_removed_permission_fails_the_retraining_with_aws_reason(
    local_project: Path, deployed: dict, role: str, sid: str, refused: str
) -> None:
    before = predict(local_project)["model_version"]
    with without_statement(local_project, role, sid):
        res = cli(local_project, "retrain", "--env", "local", "--model", MODEL, "--wait", "--json")
    assert res.returncode == 1, res.stdout + res.stderr
    outcome = json.loads(res.stdout)
    assert outcome["status"] == "FAILED" and refused in outcome["cause"], outcome
    assert predict(local_project)["model_version"] == before


def test_a_removed_permission_fails_the_prediction_and_the_function_log_says_why(
    local_project: Path, deployed: dict
) -> None:
    function = "vwt-local-predict"
    with without_statement(local_project, f"{function}-lambda", "InvokeThisEnvironmentsEndpoints"):
        res = cli(local_project, "predict", "--env", "local", "--model", MODEL, "--sample", "1", "--json")
    assert res.returncode != 0 and "502" in res.stderr + res.stdout, res.stdout + res.stderr
    logs = client(local_project, "logs")
    events = logs.filter_log_events(logGroupName=f"/aws/lambda/{function}", filterPattern='"not authorized"')
    assert any("sagemaker:InvokeEndpoint" in e["message"] for e in events["events"])
    assert predict(local_project)["model_version"]  # answers again with the permission back


# ---------------------------------------------------------------- 4. a lost emulator


def test_a_lost_emulator_is_reported_and_rebuilt(local_project: Path, first_up: dict) -> None:
    """The emulator killed (-9) while `retrain --wait` follows a run: the command ends with one message saying the
    run is lost and what to do (no hang, no traceback); `status` says so; `up` rebuilds everything."""
    import os
    import signal

    following = start_cli(local_project, "retrain", "--env", "local", "--model", MODEL, "--wait", *MANUAL)
    assert following.stdout is not None
    output = []
    for line in following.stdout:  # the run is under way: it has entered a state
        output.append(line)
        if line.startswith("  > "):
            break
    info = Emulator(local_project / ".vwt" / "emulator").running()
    assert info is not None
    os.kill(info.pid, signal.SIGKILL)  # its memory is gone, and its processes die with it (parent-death signal)
    output.append(following.communicate(timeout=120)[0])
    text = "".join(output)
    assert following.returncode == 1, text
    assert "the local emulator stopped while" in text and "the run is lost with it" in text, text
    assert "vwt-deploy up --env local" in text and "Traceback" not in text
    status = cli(local_project, "status", "--env", "local", "--json")
    assert status.returncode == 0
    data = json.loads(status.stdout)
    assert data["emulator"] == "not running" and "run `vwt-deploy up --env local` to rebuild" in data["warning"]


def test_terraform_killed_during_up_then_unlock_then_up_adopts_what_it_created(local_project: Path) -> None:
    """The rebuild's `up` with terraform killed (-9) mid-apply (a cancelled CI runner): the command says the lock is
    left; the next `up` meets it, stale; `unlock --yes` releases it; `up` adopts what the killed apply created but
    did not record (the data in its buckets kept), names what it could not, and completes."""
    import os
    import signal

    rebuilding = start_cli(local_project, "up", "--env", "local", "--yes")
    assert rebuilding.stdout is not None
    created, output = 0, []
    for line in rebuilding.stdout:
        output.append(line)
        created += "Creation complete" in line
        if created == 40:  # the buckets, roles and registries are made first; well before the end
            killed = children(rebuilding.pid, "terraform")
            assert len(killed) == 1, killed
            os.kill(killed[0], signal.SIGKILL)
            break
    output.append(rebuilding.communicate(timeout=120)[0])
    text = "".join(output)
    assert rebuilding.returncode == 1, text[-3000:]
    assert "terraform was stopped by signal 9 before it finished" in text and "vwt-deploy unlock --env local" in text

    s3 = client(local_project, "s3")
    data_buckets = [b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith("vwt-local-data-")]
    assert data_buckets, "the killed apply had made the data buckets"
    for bucket in data_buckets:  # data written meanwhile must survive the recovery
        s3.put_object(Bucket=bucket, Key="training/kept.csv", Body=b"user_id,x\n1,2\n")

    res = cli(local_project, "up", "--env", "local", "--yes")
    assert res.returncode == 1
    assert "no longer exists, so the lock is stale" in res.stderr and "vwt-deploy unlock --env local" in res.stderr
    res = cli(local_project, "unlock", "--env", "local", "--yes")
    assert res.returncode == 0 and "released lock" in res.stdout, res.stdout + res.stderr

    res = cli(local_project, "up", "--env", "local", "--yes")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "local is up." in res.stdout
    for bucket in data_buckets:
        assert f"({bucket}): it exists but the state did not record it" in res.stdout  # adopted, not made again
        assert s3.get_object(Bucket=bucket, Key="training/kept.csv")["Body"].read() == b"user_id,x\n1,2\n"
    assert "Plan: " in res.stdout and " to import, " in res.stdout
    assert len(client(local_project, "sagemaker").list_endpoints()["Endpoints"]) == len(MODELS)
    api_url = json.loads(cli(local_project, "status", "--env", "local", "--json").stdout)["outputs"]["api_url"]
    gateway = client(local_project, "apigateway")
    for line in res.stdout.splitlines():  # the REST API the killed apply made cannot be adopted: it is named
        if line.startswith("left by an interrupted apply") and "aws_api_gateway_rest_api" in line:
            orphan = line.split("--rest-api-id ")[1].rstrip("`")
            assert orphan not in api_url
            gateway.delete_rest_api(restApiId=orphan)  # as the user would, with the command it gives
    left = [a["id"] for a in gateway.get_rest_apis()["items"]]
    assert len(left) == 1 and left[0] in api_url, (left, api_url)


# ---------------------------------------------------------------- 5. down


@pytest.fixture(scope="module")
def processes_before_down(local_project: Path) -> list[int]:
    """The processes the runtime started (endpoints, Lambda workers), and the emulator, before `down`."""
    record = local_project / ".vwt" / "emulator" / "runtime" / "processes.json"
    started = [p["pid"] for p in json.loads(record.read_text())]
    assert started, "the runtime should be running endpoints and Lambda workers"
    return [*started, Emulator(local_project / ".vwt" / "emulator").running().pid]


def test_down_leaves_nothing(local_project: Path, first_up: dict, processes_before_down: list[int]) -> None:
    s3 = client(local_project, "s3")
    s3.put_object(Bucket="vwt-local-data-gambling-behaviour", Key="training/x.csv", Body=b"a,b\n1,2\n")
    res = cli(local_project, "down", "--env", "local", "--yes", "--keep-emulator")
    assert res.returncode == 0, res.stderr[-3000:]
    assert "local is down." in res.stdout
    names = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert names <= {"vwt-local-tfstate"}, names
    assert client(local_project, "sagemaker").list_endpoints()["Endpoints"] == []
    assert client(local_project, "sagemaker").list_models()["Models"] == []
    assert client(local_project, "lambda").list_functions()["Functions"] == []
    assert client(local_project, "stepfunctions").list_state_machines()["stateMachines"] == []
    assert client(local_project, "ecr").describe_repositories()["repositories"] == []
    res = cli(local_project, "down", "--env", "local", "--yes")
    assert res.returncode == 0 and "nothing to destroy" in res.stdout
    assert Emulator(local_project / ".vwt" / "emulator").status()[0] == "not running"


def test_down_stops_every_process_the_runtime_started(processes_before_down: list[int]) -> None:
    """After the `down`s above: nothing the runtime started, nor the emulator, is left."""
    assert [p for p in processes_before_down if not gone(p, 10)] == []
