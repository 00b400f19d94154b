"""The local SageMaker runtime: training and tuning jobs run the container's `train`, endpoints its `serve`.

Every test talks to a real emulator subprocess with boto3, as a user (or the pipeline) would.
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import signal
import tarfile
import threading
import time

import pytest
from botocore.exceptions import ClientError

from tests.helpers import alive, gone, process_of
from tests.helpers.container import SCHEMA, make_rows
from tests.helpers.emulator import start_emulator
from vwt_deploy.emulator.runtime.sagemaker import draw_hyperparameters

BUCKET = "vwt-data"
MODELS = "vwt-models"
ROLE = "arn:aws:iam::123456789012:role/sagemaker"
METRICS = [{"Name": n, "Regex": rf"{n}=([0-9.eE+-]+)"} for n in ("validation:auc", "validation:accuracy")]
HP = {
    "algorithm": "random_forest",
    "task": "classification",
    "label": "self_excluded",
    "no_trees": "8",
    "max_depth": "5",
}


def csv_bytes(rows: list[dict]) -> bytes:
    columns = list(rows[0])
    lines = [",".join(columns)] + [",".join(str(r[c]) for c in columns) for r in rows]
    return ("\n".join(lines) + "\n").encode()


def wait(describe, key: str, done: tuple[str, ...], limit: float = 180.0) -> dict:
    """Poll until `key` is one of `done` (the limit only stops a hung test; it asserts nothing about speed)."""
    deadline = time.monotonic() + limit
    while True:
        answer = describe()
        if answer[key] in done or time.monotonic() > deadline:
            return answer
        time.sleep(0.2)


def job_args(name: str, prefix: str = "training/", hp: dict | None = None, **extra) -> dict:
    return dict(
        TrainingJobName=name,
        AlgorithmSpecification={
            "TrainingImage": "vwt-model:local",
            "TrainingInputMode": "File",
            "MetricDefinitions": METRICS,
        },
        HyperParameters=hp or HP,
        RoleArn=ROLE,
        InputDataConfig=[
            {
                "ChannelName": "train",
                "ContentType": "text/csv",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"s3://{BUCKET}/{prefix}",
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
        ],
        OutputDataConfig={"S3OutputPath": f"s3://{MODELS}/training/"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition=extra.pop("StoppingCondition", {"MaxRuntimeInSeconds": 600}),
        **extra,
    )


@pytest.fixture(scope="module")
def sm(emulator_client):
    s3 = emulator_client("s3")
    for bucket in (BUCKET, MODELS):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_object(Bucket=BUCKET, Key="training/data.csv", Body=csv_bytes(make_rows(300, "classification")))
    s3.put_object(Bucket=BUCKET, Key="training/schema.json", Body=json.dumps(SCHEMA).encode())
    one_class = [{**r, "self_excluded": 0} for r in make_rows(50, "classification")]
    s3.put_object(Bucket=BUCKET, Key="one-class/data.csv", Body=csv_bytes(one_class))
    s3.put_object(Bucket=BUCKET, Key="one-class/schema.json", Body=json.dumps(SCHEMA).encode())
    return emulator_client("sagemaker")


def train(sm, name: str, **kwargs) -> dict:
    sm.create_training_job(**job_args(name, **kwargs))
    return wait(
        lambda: sm.describe_training_job(TrainingJobName=name), "TrainingJobStatus", ("Completed", "Failed", "Stopped")
    )


@pytest.fixture(scope="module")
def trained(sm) -> dict[str, dict]:
    """Two completed training jobs (two model versions), by name."""
    names = ["model-a", "model-b"]
    for name, trees in zip(names, ("8", "12"), strict=True):
        sm.create_training_job(**job_args(name, hp={**HP, "no_trees": trees}))
    return {
        n: wait(
            lambda n=n: sm.describe_training_job(TrainingJobName=n),
            "TrainingJobStatus",
            ("Completed", "Failed", "Stopped"),
        )
        for n in names
    }


# --------------------------------------------------------------------------- training jobs


def test_a_training_job_runs_the_container_and_leaves_its_model_and_metrics(emulator_client, sm, trained):
    job = trained["model-a"]
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert [t["Status"] for t in job["SecondaryStatusTransitions"]] == [
        "Starting",
        "Downloading",
        "Training",
        "Uploading",
        "Completed",
    ]
    assert job["AlgorithmSpecification"]["MetricDefinitions"] == METRICS  # the caller's, not moto's test:dcg

    artifact = job["ModelArtifacts"]["S3ModelArtifacts"]
    assert artifact == f"s3://{MODELS}/training/model-a/output/model.tar.gz"
    body = emulator_client("s3").get_object(Bucket=MODELS, Key="training/model-a/output/model.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        assert {"model.onnx", "model.json"} <= set(tar.getnames())
        doc = json.load(tar.extractfile("model.json"))
    assert doc["version"] == "model-a"  # the container names the model after the job (TRAINING_JOB_NAME)
    final = {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}
    assert set(final) == {"validation:auc", "validation:accuracy"}
    assert final["validation:auc"] == pytest.approx(doc["metrics"]["validation:auc"], rel=1e-5)

    logs = emulator_client("logs")
    streams = logs.describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix="model-a/")[
        "logStreams"
    ]
    assert len(streams) == 1 and re.fullmatch(r"model-a/algo-1-\d+", streams[0]["logStreamName"])
    events = logs.get_log_events(logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=streams[0]["logStreamName"])[
        "events"
    ]
    assert any(e["message"].startswith("validation:auc=") for e in events)


def test_a_training_job_is_in_progress_until_its_process_ends(sm):
    sm.create_training_job(**job_args("in-progress"))
    first = sm.describe_training_job(TrainingJobName="in-progress")
    assert first["TrainingJobStatus"] == "InProgress"
    assert "FailureReason" not in first and "FinalMetricDataList" not in first
    assert sm.list_training_jobs(StatusEquals="InProgress", NameContains="in-progress")["TrainingJobSummaries"]
    wait(lambda: sm.describe_training_job(TrainingJobName="in-progress"), "TrainingJobStatus", ("Completed",))
    with pytest.raises(ClientError, match="must be unique"):
        sm.create_training_job(**job_args("in-progress"))


def test_bad_data_fails_the_job_with_the_containers_reason(sm):
    job = train(sm, "one-class", prefix="one-class/")
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith("AlgorithmError: ")
    assert "every row has the same label" in job["FailureReason"]
    assert "ModelArtifacts" not in job or not job.get("FinalMetricDataList")


def test_a_channel_with_no_data_fails_the_job_and_says_where_it_looked(sm):
    job = train(sm, "no-data", prefix="nothing-here/")
    assert job["TrainingJobStatus"] == "Failed"
    assert f"s3://{BUCKET}/nothing-here/" in job["FailureReason"] and "No S3 objects found" in job["FailureReason"]


@pytest.mark.parametrize("name", ["../../../../precious", "./x", "a/b", "-leading-dash", "x" * 64])
def test_a_name_sagemaker_refuses_is_refused_and_touches_no_folder(sm, name):
    """Names become local folders: one that could leave the runtime's folder never gets that far."""
    with pytest.raises(ClientError) as err:
        sm.create_training_job(**job_args(name))
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert "regular expression pattern" in str(err.value)
    with pytest.raises(ClientError):
        sm.create_endpoint(EndpointName=name, EndpointConfigName="any")


def test_a_malformed_request_is_refused_in_sagemakers_words_and_makes_no_job(emulator):
    """Sent as a client without botocore's checks sends it (Terraform, the CLI, other SDKs): every failure of
    botocore's model of the API, in the ValidationException SageMaker answers."""
    import boto3
    from botocore.config import Config

    raw = boto3.client(
        "sagemaker",
        endpoint_url=emulator.url,
        region_name="eu-west-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(parameter_validation=False),
    )
    args = job_args("malformed", StoppingCondition={"MaxRuntimeInSeconds": 0})
    del args["RoleArn"]
    args["ResourceConfig"]["InstanceType"] = "ml.m5.huge"
    with pytest.raises(ClientError) as err:
        raw.create_training_job(**args)
    error = err.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert error["Message"].startswith(
        "3 validation errors detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be "
        "null; Value 'ml.m5.huge' at 'resourceConfig.instanceType' failed to satisfy constraint: Member must "
        "satisfy enum value set: [ml.m4.xlarge, "
    )
    assert error["Message"].endswith(
        "]; Value '0' at 'stoppingCondition.maxRuntimeInSeconds' failed to satisfy constraint: Member must have "
        "value greater than or equal to 1"
    )
    assert "malformed" not in [j["TrainingJobName"] for j in raw.list_training_jobs()["TrainingJobSummaries"]]


SLOW = {**HP, "no_trees": "3000", "max_depth": "20"}  # several seconds of fitting and conversion


def test_stop_training_job_stops_the_process(emulator, sm):
    sm.create_training_job(**job_args("to-stop", hp=SLOW))
    pid = None
    deadline = time.monotonic() + 60
    while pid is None and time.monotonic() < deadline:
        pid = process_of(emulator, "training job to-stop")
        time.sleep(0.05)
    assert pid, "the training process never started"
    sm.stop_training_job(TrainingJobName="to-stop")
    assert sm.describe_training_job(TrainingJobName="to-stop")["TrainingJobStatus"] in ("Stopping", "Stopped")
    job = wait(lambda: sm.describe_training_job(TrainingJobName="to-stop"), "TrainingJobStatus", ("Stopped",))
    assert job["TrainingJobStatus"] == "Stopped" and job["SecondaryStatus"] == "Stopped"
    assert not alive(pid)
    with pytest.raises(ClientError, match="in status Stopped"):
        sm.stop_training_job(TrainingJobName="to-stop")


def test_max_runtime_stops_the_job(sm):
    job = train(sm, "too-slow", hp=SLOW, StoppingCondition={"MaxRuntimeInSeconds": 1})
    assert job["TrainingJobStatus"] == "Stopped"
    assert job["SecondaryStatus"] == "MaxRuntimeExceeded"


# --------------------------------------------------------------------------- tuning jobs


RANGES = {
    "IntegerParameterRanges": [
        {"Name": "no_trees", "MinValue": "5", "MaxValue": "30", "ScalingType": "Linear"},
        {"Name": "max_depth", "MinValue": "2", "MaxValue": "8", "ScalingType": "Logarithmic"},
    ],
    "CategoricalParameterRanges": [{"Name": "min_samples_leaf", "Values": ["1", "3"]}],
}


def test_random_search_draws_within_the_ranges_and_repeats_with_the_seed():
    ranges = {
        **RANGES,
        "ContinuousParameterRanges": [
            {"Name": "a", "MinValue": "0.001", "MaxValue": "1", "ScalingType": "Logarithmic"},
            {"Name": "b", "MinValue": "0.9", "MaxValue": "0.999", "ScalingType": "ReverseLogarithmic"},
            {"Name": "c", "MinValue": "-1", "MaxValue": "1", "ScalingType": "Auto"},
        ],
    }
    draws = [draw_hyperparameters(ranges, random.Random(7)) for _ in range(2)]
    assert draws[0] == draws[1]
    for d in (draw_hyperparameters(ranges, random.Random(seed)) for seed in range(200)):
        assert 5 <= int(d["no_trees"]) <= 30 and 2 <= int(d["max_depth"]) <= 8 and d["min_samples_leaf"] in ("1", "3")
        assert 0.001 <= float(d["a"]) <= 1 and 0.9 <= float(d["b"]) <= 0.999 and -1 <= float(d["c"]) <= 1


def tuning_args(name: str, jobs: int, parallel: int, prefix: str = "training/") -> dict:
    definition = job_args("unused", prefix=prefix)
    for key in ("TrainingJobName", "HyperParameters"):
        definition.pop(key)
    return dict(
        HyperParameterTuningJobName=name,
        HyperParameterTuningJobConfig={
            "Strategy": "Bayesian",
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "validation:auc"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": jobs, "MaxParallelTrainingJobs": parallel},
            "ParameterRanges": RANGES,
            "TrainingJobEarlyStoppingType": "Off",
        },
        TrainingJobDefinition={
            **definition,
            "StaticHyperParameters": {k: v for k, v in HP.items() if k not in ("no_trees", "max_depth")},
        },
    )


def test_a_tuning_job_runs_its_training_jobs_and_reports_the_best(sm):
    sm.create_hyper_parameter_tuning_job(**tuning_args("tune-1", jobs=3, parallel=2))
    first = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune-1")
    assert first["HyperParameterTuningJobStatus"] == "InProgress" and "BestTrainingJob" not in first
    tuning = wait(
        lambda: sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune-1"),
        "HyperParameterTuningJobStatus",
        ("Completed", "Failed", "Stopped"),
    )
    assert tuning["HyperParameterTuningJobStatus"] == "Completed", tuning.get("FailureReason")
    assert tuning["TrainingJobStatusCounters"] == {
        "Completed": 3,
        "InProgress": 0,
        "RetryableError": 0,
        "NonRetryableError": 0,
        "Stopped": 0,
    }
    assert tuning["ObjectiveStatusCounters"] == {"Succeeded": 3, "Pending": 0, "Failed": 0}

    summaries = sm.list_training_jobs_for_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune-1")[
        "TrainingJobSummaries"
    ]
    assert len(summaries) == 3
    jobs = [sm.describe_training_job(TrainingJobName=s["TrainingJobName"]) for s in summaries]
    aucs = {}
    for job, summary in zip(jobs, summaries, strict=True):
        assert re.fullmatch(r"tune-1-00[123]-[0-9a-f]{8}", job["TrainingJobName"])
        assert job["TuningJobArn"] == tuning["HyperParameterTuningJobArn"]
        tuned = summary["TunedHyperParameters"]
        assert 5 <= int(tuned["no_trees"]) <= 30 and 2 <= int(tuned["max_depth"]) <= 8
        assert job["HyperParameters"]["label"] == "self_excluded"  # the static ones travel along
        assert job["HyperParameters"]["no_trees"] == tuned["no_trees"]
        aucs[job["TrainingJobName"]] = {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}[
            "validation:auc"
        ]
    best = tuning["BestTrainingJob"]
    assert best["TrainingJobName"] == max(aucs, key=aucs.get)
    assert best["FinalHyperParameterTuningJobObjectiveMetric"] == {
        "Type": "Maximize",
        "MetricName": "validation:auc",
        "Value": pytest.approx(max(aucs.values())),
    }
    assert best["TunedHyperParameters"]

    # at most two at a time: the third started only after one of the first two had ended
    ordered = sorted(jobs, key=lambda j: j["TrainingJobName"])
    assert ordered[2]["CreationTime"] >= min(j["TrainingEndTime"] for j in ordered[:2])


def test_a_tuning_job_whose_every_training_job_fails_is_failed(sm):
    sm.create_hyper_parameter_tuning_job(**tuning_args("tune-bad", jobs=2, parallel=2, prefix="one-class/"))
    tuning = wait(
        lambda: sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune-bad"),
        "HyperParameterTuningJobStatus",
        ("Completed", "Failed", "Stopped"),
    )
    assert tuning["HyperParameterTuningJobStatus"] == "Failed"
    assert "every row has the same label" in tuning["FailureReason"]
    assert tuning["TrainingJobStatusCounters"]["NonRetryableError"] == 2


def test_stop_hyper_parameter_tuning_job_stops_its_training_jobs_and_starts_no_more(sm):
    args = tuning_args("tune-stop", jobs=3, parallel=1)
    args["HyperParameterTuningJobConfig"]["ParameterRanges"] = {
        "CategoricalParameterRanges": [{"Name": "min_samples_leaf", "Values": ["1", "2"]}]
    }
    args["TrainingJobDefinition"]["StaticHyperParameters"] = SLOW
    sm.create_hyper_parameter_tuning_job(**args)
    deadline = time.monotonic() + 60
    while (
        time.monotonic() < deadline
        and not sm.list_training_jobs_for_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune-stop")[
            "TrainingJobSummaries"
        ]
    ):
        time.sleep(0.05)
    sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune-stop")
    tuning = wait(
        lambda: sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune-stop"),
        "HyperParameterTuningJobStatus",
        ("Stopped", "Completed", "Failed"),
    )
    assert tuning["HyperParameterTuningJobStatus"] == "Stopped"
    jobs = sm.list_training_jobs_for_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune-stop")[
        "TrainingJobSummaries"
    ]
    assert [j["TrainingJobStatus"] for j in jobs] == ["Stopped"]
    with pytest.raises(ClientError, match="only InProgress"):
        sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune-stop")


def test_bad_ranges_are_refused_at_creation(sm):
    args = tuning_args("tune-refused", jobs=1, parallel=1)
    args["HyperParameterTuningJobConfig"]["ParameterRanges"] = {
        "IntegerParameterRanges": [{"Name": "no_trees", "MinValue": "50", "MaxValue": "5"}]
    }
    with pytest.raises(ClientError, match="MinValue 50 greater than MaxValue 5"):
        sm.create_hyper_parameter_tuning_job(**args)


# --------------------------------------------------------------------------- endpoints


def deploy_config(sm, name: str, artifact: str) -> None:
    sm.create_model(
        ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "vwt-model:local", "ModelDataUrl": artifact}
    )
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": name, "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
        ],
    )


RECORD = {
    "deposits_per_week": 3.5,
    "session_minutes": 120,
    "cancelled_withdrawals": 2,
    "product": "casino",
    "night_player": True,
    "bonus": 1.0,
}


def invoke(runtime, endpoint: str, body: object = None) -> dict:
    answer = runtime.invoke_endpoint(
        EndpointName=endpoint,
        ContentType="application/json",
        Accept="application/json",
        Body=json.dumps([RECORD] if body is None else body),
    )
    return {
        **json.loads(answer["Body"].read()),
        "variant": answer["InvokedProductionVariant"],
        "content_type": answer["ContentType"],
    }


@pytest.fixture(scope="module")
def configs(emulator_client, sm, trained) -> list[str]:
    for name, job in trained.items():
        deploy_config(sm, name, job["ModelArtifacts"]["S3ModelArtifacts"])
    deploy_config(sm, "missing-artifact", f"s3://{MODELS}/nothing/model.tar.gz")
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        readme = b"not a model"
        info = tarfile.TarInfo("README.txt")
        info.size = len(readme)
        tar.addfile(info, io.BytesIO(readme))
    emulator_client("s3").put_object(Bucket=MODELS, Key="empty/model.tar.gz", Body=archive.getvalue())
    deploy_config(sm, "empty-model", f"s3://{MODELS}/empty/model.tar.gz")
    return list(trained)


def test_an_endpoint_serves_predictions_through_sagemaker_runtime(emulator_client, sm, configs):
    runtime = emulator_client("sagemaker-runtime")
    sm.create_endpoint(EndpointName="serve-1", EndpointConfigName="model-a")
    assert sm.describe_endpoint(EndpointName="serve-1")["EndpointStatus"] == "InService"  # at once
    answer = invoke(runtime, "serve-1", [RECORD, {**RECORD, "deposits_per_week": 0.1}])
    assert answer["model_version"] == "model-a" and answer["variant"] == "AllTraffic"
    assert answer["content_type"] == "application/json"
    assert len(answer["predictions"]) == 2

    with pytest.raises(ClientError) as bad:
        invoke(runtime, "serve-1", [{"deposits_per_week": "lots"}])
    error = bad.value.response
    assert error["Error"]["Code"] == "ModelError" and error["OriginalStatusCode"] == 400
    assert "Received client error (400)" in error["Error"]["Message"]
    assert "deposits_per_week" in error["OriginalMessage"]  # the model's own words

    with pytest.raises(ClientError) as unknown:
        invoke(runtime, "nope")
    assert unknown.value.response["Error"]["Code"] == "ValidationError"
    assert unknown.value.response["Error"]["Message"] == "Endpoint nope of account 123456789012 not found."

    # the serve process's log reaches CloudWatch Logs, where SageMaker puts it
    logs = emulator_client("logs")
    messages: list[str] = []
    for _ in range(100):
        try:
            events = logs.get_log_events(
                logGroupName="/aws/sagemaker/Endpoints/serve-1", logStreamName="AllTraffic/model-a"
            )["events"]
            messages = [e["message"] for e in events]
        except logs.exceptions.ResourceNotFoundException:
            pass
        if any("model-a" in m and "loaded" in m for m in messages):
            break
        time.sleep(0.1)
    assert any("model-a" in m and "loaded" in m for m in messages), messages


def test_an_endpoint_whose_model_cannot_be_fetched_is_failed_with_the_reason(sm, configs):
    sm.create_endpoint(EndpointName="serve-missing", EndpointConfigName="missing-artifact")
    endpoint = sm.describe_endpoint(EndpointName="serve-missing")
    assert endpoint["EndpointStatus"] == "Failed"
    assert f"s3://{MODELS}/nothing/model.tar.gz" in endpoint["FailureReason"]
    sm.delete_endpoint(EndpointName="serve-missing")


def test_an_endpoint_whose_serve_process_cannot_start_is_failed_with_its_log(sm, configs):
    sm.create_endpoint(EndpointName="serve-empty", EndpointConfigName="empty-model")
    endpoint = sm.describe_endpoint(EndpointName="serve-empty")
    assert endpoint["EndpointStatus"] == "Failed"
    assert "exited with code 1 before it answered /ping" in endpoint["FailureReason"]
    assert "cannot serve" in endpoint["FailureReason"]  # the serve process's own words
    with pytest.raises(ClientError, match="Cannot update failed endpoint"):
        sm.update_endpoint(EndpointName="serve-empty", EndpointConfigName="model-a")
    sm.delete_endpoint(EndpointName="serve-empty")


def test_deleting_an_endpoint_deregisters_its_auto_scaling(emulator_client, sm, configs):
    """As Application Auto Scaling does when an endpoint is deleted: its variant's target is deregistered, with the
    target's policies; an endpoint created again with the name is not scaled until they are registered again."""
    scaling = emulator_client("application-autoscaling")
    target = {
        "ServiceNamespace": "sagemaker",
        "ResourceId": "endpoint/serve-scaled/variant/AllTraffic",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
    }
    other = {**target, "ResourceId": "endpoint/serve-scaled-other/variant/AllTraffic"}
    sm.create_endpoint(EndpointName="serve-scaled", EndpointConfigName="model-a")
    for t in (target, other):
        scaling.register_scalable_target(**t, MinCapacity=1, MaxCapacity=2)
        scaling.put_scaling_policy(
            PolicyName=t["ResourceId"].split("/")[1] + "-invocations",
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={
                "TargetValue": 100.0,
                "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
            },
            **t,
        )
    sm.delete_endpoint(EndpointName="serve-scaled")
    targets = scaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    policies = scaling.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"]
    assert [x["ResourceId"] for x in targets] == [other["ResourceId"]]  # another endpoint's target is untouched
    assert [x["ResourceId"] for x in policies] == [other["ResourceId"]]
    scaling.deregister_scalable_target(**other)


def test_update_endpoint_switches_models_without_failing_a_request(emulator, emulator_client, sm, configs):
    runtime = emulator_client("sagemaker-runtime")
    sm.create_endpoint(EndpointName="serve-2", EndpointConfigName="model-a")
    old_pid = process_of(emulator, "endpoint serve-2 (model-a)")
    versions: list[str] = []
    errors: list[Exception] = []
    stop = threading.Event()

    def client_loop() -> None:
        while not stop.is_set():
            try:
                versions.append(invoke(runtime, "serve-2")["model_version"])
            except Exception as exc:  # noqa: BLE001 - the test counts every failure
                errors.append(exc)

    sender = threading.Thread(target=client_loop)
    sender.start()
    try:
        while not versions and not errors:
            time.sleep(0.01)
        assert not errors
        sm.update_endpoint(EndpointName="serve-2", EndpointConfigName="model-b", RetainDeploymentConfig=True)
        assert sm.describe_endpoint(EndpointName="serve-2")["EndpointStatus"] == "Updating"
        endpoint = wait(lambda: sm.describe_endpoint(EndpointName="serve-2"), "EndpointStatus", ("InService", "Failed"))
        assert endpoint["EndpointStatus"] == "InService" and endpoint["EndpointConfigName"] == "model-b"
        seen = len(versions)
        while len(versions) < seen + 20 and not errors:
            time.sleep(0.01)
    finally:
        stop.set()
        sender.join()
    assert not errors
    assert versions[0] == "model-a" and versions[-1] == "model-b"
    switch = versions.index("model-b")
    assert set(versions[switch:]) == {"model-b"}  # once switched, never back
    assert gone(old_pid, 60), "the old model's process still runs"

    # an update whose model cannot start leaves the endpoint on the model it served
    sm.update_endpoint(EndpointName="serve-2", EndpointConfigName="missing-artifact")
    endpoint = wait(lambda: sm.describe_endpoint(EndpointName="serve-2"), "EndpointStatus", ("InService", "Failed"))
    assert endpoint["EndpointStatus"] == "InService" and endpoint["EndpointConfigName"] == "model-b"
    assert "missing-artifact" in endpoint["FailureReason"]
    assert invoke(runtime, "serve-2")["model_version"] == "model-b"


def _replaced(emulator, name: str, old: int, limit: float = 60.0) -> int:
    """The pid of the serve process that replaced `old`."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        pid = process_of(emulator, f"endpoint {name} ")
        if pid and pid != old:
            return pid
        time.sleep(0.1)
    raise AssertionError(f"no serve process replaced {old}: {emulator.processes()}")


def _answers_again(runtime, name: str, limit: float = 60.0) -> None:
    """Requests sent while the endpoint's process restarts may fail; then it answers again, with no command run."""
    deadline = time.monotonic() + limit
    while True:
        try:
            assert invoke(runtime, name)["model_version"] == "model-a"
            return
        except ClientError:
            assert time.monotonic() < deadline, f"{name} did not answer again"
            time.sleep(0.2)


def test_a_killed_serve_process_is_replaced_and_the_endpoint_keeps_serving(emulator, emulator_client, sm, configs):
    """As SageMaker replaces an unhealthy instance: the endpoint stays InService, the restart is in its log; only a
    crash loop (the 4th death within 5 minutes) makes it Failed, with the reason."""
    runtime, logs = emulator_client("sagemaker-runtime"), emulator_client("logs")
    for name in ("serve-3", "serve-4"):
        sm.create_endpoint(EndpointName=name, EndpointConfigName="model-a")
    killed = process_of(emulator, "endpoint serve-3 ")
    os.kill(killed, signal.SIGKILL)
    _replaced(emulator, "serve-3", killed)
    _answers_again(runtime, "serve-3")
    assert sm.describe_endpoint(EndpointName="serve-3")["EndpointStatus"] == "InService"
    group = "/aws/sagemaker/Endpoints/serve-3"
    stream = logs.describe_log_streams(logGroupName=group)["logStreams"][0]["logStreamName"]
    lines = [e["message"] for e in logs.get_log_events(logGroupName=group, logStreamName=stream)["events"]]
    assert any("exited with code -9; starting a new one (restart 1)" in line for line in lines), lines[-5:]

    for death in (2, 3, 4):  # three more deaths within the window: a crash loop
        current = process_of(emulator, "endpoint serve-3 ")
        os.kill(current, signal.SIGKILL)
        if death < 4:
            _replaced(emulator, "serve-3", current)
            _answers_again(runtime, "serve-3")  # the replacement is up (killing it while it starts is another case)
    endpoint = wait(lambda: sm.describe_endpoint(EndpointName="serve-3"), "EndpointStatus", ("Failed",))
    assert endpoint["EndpointStatus"] == "Failed"
    assert "exited with code -9, 4 times within 300 s" in endpoint["FailureReason"]
    with pytest.raises(ClientError, match="not InService"):
        invoke(runtime, "serve-3")

    pid = process_of(emulator, "endpoint serve-4 ")
    sm.delete_endpoint(EndpointName="serve-4")
    assert not alive(pid)
    assert all(p["pid"] != pid for p in emulator.processes())
    with pytest.raises(ClientError, match="not found"):
        invoke(runtime, "serve-4")


def test_stopping_the_emulator_stops_every_serve_process(tmp_path):
    """An emulator of its own: the test stops it."""
    from vwt_model.baseline import build_artifact

    artifact = build_artifact(SCHEMA["features"], "classification", tmp_path / "baseline" / "model.tar.gz")
    other = start_emulator(tmp_path / "emulator")
    try:
        other.client("s3").create_bucket(Bucket=MODELS, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        other.client("s3").upload_file(str(artifact), MODELS, "baseline/model.tar.gz")
        sm = other.client("sagemaker")
        deploy_config(sm, "m", f"s3://{MODELS}/baseline/model.tar.gz")
        sm.create_endpoint(EndpointName="e", EndpointConfigName="m")  # the baseline a fresh `up` deploys
        assert sm.describe_endpoint(EndpointName="e")["EndpointStatus"] == "InService"
        pid = process_of(other, "endpoint e ")
        assert invoke(other.client("sagemaker-runtime"), "e")["model_version"] == "baseline"
    finally:
        other.stop()
    assert pid and not alive(pid)


def test_an_endpoint_captures_its_requests_and_answers_as_sagemaker_does(emulator_client, sm, configs, trained):
    """DataCaptureConfig: JSON Lines under <destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/, one record a
    sampled invocation, written when its file is due or the process stops (here: the endpoint is deleted)."""
    artifact = trained["model-a"]["ModelArtifacts"]["S3ModelArtifacts"]
    sm.create_model(
        ModelName="captured",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": "vwt-model:local", "ModelDataUrl": artifact},
    )
    sm.create_endpoint_config(
        EndpointConfigName="captured",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "captured",
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
        DataCaptureConfig={
            "EnableCapture": True,
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": f"s3://{MODELS}/data-capture",
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"]},
        },
    )
    sm.create_endpoint(EndpointName="serve-captured", EndpointConfigName="captured")
    runtime = emulator_client("sagemaker-runtime")
    answers = [invoke(runtime, "serve-captured", [{**RECORD, "deposits_per_week": float(i)}]) for i in range(3)]
    sm.delete_endpoint(EndpointName="serve-captured")  # its process stops, and writes what it captured

    s3 = emulator_client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=MODELS, Prefix="data-capture/")["Contents"]]
    assert keys and all(
        re.fullmatch(r"data-capture/serve-captured/AllTraffic/\d{4}/\d\d/\d\d/\d\d/[^/]+\.jsonl", k) for k in keys
    )
    records = [
        json.loads(line) for k in keys for line in s3.get_object(Bucket=MODELS, Key=k)["Body"].read().splitlines()
    ]
    assert len(records) == 3
    for record, answer in zip(records, answers, strict=True):
        given, got = record["captureData"]["endpointInput"], record["captureData"]["endpointOutput"]
        assert (
            given["mode"] == "INPUT"
            and given["encoding"] == "JSON"
            and given["observedContentType"] == "application/json"
        )
        assert json.loads(given["data"])[0]["deposits_per_week"] in (0.0, 1.0, 2.0)
        assert got["mode"] == "OUTPUT" and json.loads(got["data"])["model_version"] == answer["model_version"]
        assert record["eventVersion"] == "0" and record["eventMetadata"]["eventId"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", record["eventMetadata"]["inferenceTime"])
