"""SageMaker Batch Transform in the local runtime: CreateTransformJob runs the container's `serve` over every object
under the input prefix and writes `<S3OutputPath>/<key below the prefix>.out`, with DataProcessing's CSV filters and
join, as the nightly batch-scoring pipeline sends it.

Every job test talks to a real emulator subprocess with boto3, as the pipeline would (the shared one, IAM off, for
the mechanics; an enforced one of its own for IAM; one of its own to be stopped). The CSV JSONPath subset is also
checked on its own, against the Developer Guide's examples.
"""

from __future__ import annotations

import io
import json
import random
import tarfile
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.helpers import ACCOUNT, REGION, gone, process_of, wait_for_process
from tests.helpers.container import FEATURES, SCHEMA, make_rows
from tests.helpers.emulator import start_emulator
from tests.helpers.stepfunctions import run, train_model
from vwt_deploy.emulator.runtime.sagemaker.transform import CsvPath, FilterError

DATA = "vwt-transform-data"
MODELS = "vwt-transform-models"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/sagemaker"
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/vwt:1"
SCORER = "tx-scorer"  # the SageMaker model the jobs use
FINAL = ("Completed", "Failed", "Stopped")


def wait(sm, name: str, done: tuple[str, ...] = FINAL, limit: float = 180.0) -> dict:
    """Poll DescribeTransformJob until its status is one of `done` (the limit only stops a hung test)."""
    deadline = time.monotonic() + limit
    while True:
        answer = sm.describe_transform_job(TransformJobName=name)
        if answer["TransformJobStatus"] in done or time.monotonic() > deadline:
            return answer
        time.sleep(0.1)


def feature_line(row: dict) -> str:
    return ",".join(str(row[f]) for f in FEATURES)


def players(rows: list[dict], prefix: str) -> tuple[list[str], bytes]:
    """A headerless scoring file, `user_id,<features in training order>`: (the user ids, its bytes)."""
    users = [f"{prefix}-{i:05d}" for i in range(len(rows))]
    body = "".join(f"{u},{feature_line(r)}\n" for u, r in zip(users, rows, strict=True))
    return users, body.encode()


def scoring_request(name: str, prefix: str, key: str | None = None, **changes) -> dict:
    """CreateTransformJob's arguments, in the shape the batch-scoring pipeline sends."""
    request = dict(
        TransformJobName=name,
        ModelName=SCORER,
        BatchStrategy="MultiRecord",
        MaxPayloadInMB=6,
        MaxConcurrentTransforms=2,
        TransformInput={
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{DATA}/{prefix}"}},
            "ContentType": "text/csv",
            "SplitType": "Line",
            "CompressionType": "None",
        },
        TransformOutput={
            "S3OutputPath": f"s3://{MODELS}/scoring/{name}/",
            "Accept": "text/csv",
            "AssembleWith": "Line",
            **({"KmsKeyId": key} if key else {}),
        },
        TransformResources={
            "InstanceType": "ml.m5.xlarge",
            "InstanceCount": 2,
            **({"VolumeKmsKeyId": key} if key else {}),
        },
        DataProcessing={"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-1]"},
        Tags=[{"Key": "purpose", "Value": "nightly-scoring"}],
    )
    request.update(changes)
    return request


def outputs(s3, name: str) -> dict[str, bytes]:
    """The job's output objects, by key below its S3OutputPath."""
    prefix = f"scoring/{name}/"
    found = s3.list_objects_v2(Bucket=MODELS, Prefix=prefix).get("Contents", [])
    return {o["Key"][len(prefix) :]: s3.get_object(Bucket=MODELS, Key=o["Key"])["Body"].read() for o in found}


@pytest.fixture(scope="module")
def scorer(emulator_client, training_data, tmp_path_factory):
    """A model trained by a training job on the emulator, as SageMaker model `tx-scorer`, and the container's
    in-process Predictor of the same artifact (to compare scores with)."""
    from vwt_model.predictor import Predictor

    sm, s3 = emulator_client("sagemaker"), emulator_client("s3")
    for bucket in (DATA, MODELS):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    artifact = train_model(sm, "tx-train")
    sm.create_model(
        ModelName=SCORER, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE, "ModelDataUrl": artifact}
    )
    folder = tmp_path_factory.mktemp("scorer")
    bucket, _, key = artifact[5:].partition("/")
    with tarfile.open(fileobj=io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read())) as tar:
        tar.extractall(folder, filter="data")
    return Predictor(folder)


@pytest.fixture(scope="module")
def kms_key(emulator_client) -> str:
    return emulator_client("kms").create_key(Description="transform output")["KeyMetadata"]["Arn"]


def expected_scores(predictor, rows: list[dict]) -> list[str]:
    """The in-process predictor's scores for `rows`, as the CSV answer writes them (Python's repr)."""
    body = "".join(feature_line(r) + "\n" for r in rows).encode()
    return [repr(score) for score in predictor.handle(body, "text/csv", 1 << 30)]


# --------------------------------------------------------------------------- the pipeline's job


def test_a_job_scores_every_operators_file_line_by_line_as_user_id_and_score(
    emulator, emulator_client, scorer, kms_key
):
    sm, s3 = emulator_client("sagemaker"), emulator_client("s3")
    files = {}
    for operator, count, seed in (("op-a", 700, 1), ("op-b", 250, 2)):
        rows = make_rows(count, "classification", seed=seed)
        users, body = players(rows, operator)
        s3.put_object(Bucket=DATA, Key=f"scoring/{SCORER}/{operator}/players.csv", Body=body)
        files[operator] = (users, expected_scores(scorer, rows))

    sm.create_transform_job(**scoring_request("tx-nightly", f"scoring/{SCORER}/", kms_key))
    first = sm.describe_transform_job(TransformJobName="tx-nightly")
    assert first["TransformJobStatus"] == "InProgress"
    assert "FailureReason" not in first and "TransformEndTime" not in first
    job = wait(sm, "tx-nightly")
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    assert "FailureReason" not in job and "LabelingJobArn" not in job and "AutoMLJobArn" not in job
    assert job["CreationTime"] <= job["TransformStartTime"] <= job["TransformEndTime"]
    assert job["DataProcessing"] == {"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-1]"}
    assert job["TransformResources"]["InstanceCount"] == 2 and job["MaxConcurrentTransforms"] == 2

    written = outputs(s3, "tx-nightly")
    assert set(written) == {"op-a/players.csv.out", "op-b/players.csv.out"}  # the operators' folders kept
    for operator, (users, scores) in files.items():
        lines = written[f"{operator}/players.csv.out"].decode().splitlines()
        assert lines == [f"{u},{s}" for u, s in zip(users, scores, strict=True)]  # in order, the model's scores
        head = s3.head_object(Bucket=MODELS, Key=f"scoring/tx-nightly/{operator}/players.csv.out")
        assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == kms_key

    logs = emulator_client("logs")
    streams = [
        s["logStreamName"]
        for s in logs.describe_log_streams(
            logGroupName="/aws/sagemaker/TransformJobs", logStreamNamePrefix="tx-nightly/"
        )["logStreams"]
    ]
    data_log = next(s for s in streams if s.endswith("/data-log"))
    messages = [
        e["message"]
        for e in logs.get_log_events(logGroupName="/aws/sagemaker/TransformJobs", logStreamName=data_log)["events"]
    ]
    assert any("MaxConcurrentTransforms=2, MaxPayloadInMB=6, BatchStrategy=MULTI_RECORD" in m for m in messages)
    assert process_of(emulator, "transform job tx-nightly ") is None  # its serve processes ended with it
    with pytest.raises(ClientError, match="in status Completed"):
        sm.stop_transform_job(TransformJobName="tx-nightly")
    with pytest.raises(ClientError, match="must be unique"):
        sm.create_transform_job(**scoring_request("tx-nightly", f"scoring/{SCORER}/"))


def test_single_record_without_data_processing_writes_each_answer_on_its_line(emulator_client, scorer):
    sm, s3 = emulator_client("sagemaker"), emulator_client("s3")
    rows = make_rows(30, "classification", seed=5)
    s3.put_object(Bucket=DATA, Key="features-only/part-1.csv", Body="".join(feature_line(r) + "\n" for r in rows))
    request = scoring_request("tx-single", "features-only/", BatchStrategy="SingleRecord")
    del request["DataProcessing"]
    sm.create_transform_job(**request)
    job = wait(sm, "tx-single")
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    assert outputs(s3, "tx-single") == {"part-1.csv.out": ("\n".join(expected_scores(scorer, rows)) + "\n").encode()}


def test_quoted_fields_crlf_line_ends_and_blank_lines_are_read_as_rfc_4180_csv(emulator_client, scorer):
    """A user id with a comma in quotes stays one column (and is quoted again in the output); CRLF ends no record
    with a carriage return; a blank line is no record (the others keep their line numbers)."""
    sm, s3 = emulator_client("sagemaker"), emulator_client("s3")
    rows = make_rows(6, "classification", seed=8)
    users = [f'"op, {i}"' for i in range(len(rows))]
    lines = [f"{u},{feature_line(r)}" for u, r in zip(users, rows, strict=True)]
    body = "\r\n".join(lines[:3] + [""] + lines[3:]) + "\r\n"
    s3.put_object(Bucket=DATA, Key="quoted/op/players.csv", Body=body.encode())
    sm.create_transform_job(**scoring_request("tx-quoted", "quoted/"))
    job = wait(sm, "tx-quoted")
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    expected = [f"{u},{score}" for u, score in zip(users, expected_scores(scorer, rows), strict=True)]
    assert outputs(s3, "tx-quoted")["op/players.csv.out"].decode().splitlines() == expected


def test_split_type_none_sends_each_object_whole_and_a_record_larger_than_the_payload_fails(emulator_client, scorer):
    sm, s3 = emulator_client("sagemaker"), emulator_client("s3")
    rows = make_rows(50, "classification", seed=9)
    s3.put_object(Bucket=DATA, Key="whole/a/players.csv", Body=players(rows, "a")[1])
    request = scoring_request("tx-whole", "whole/")
    request["TransformInput"]["SplitType"] = "None"
    sm.create_transform_job(**request)
    job = wait(sm, "tx-whole")
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    assert outputs(s3, "tx-whole")["a/players.csv.out"].decode().splitlines() == [
        f"a-{i:05d},{score}" for i, score in enumerate(expected_scores(scorer, rows))
    ]

    long_line = "x" * (1024 * 1024 + 10)
    s3.put_object(Bucket=DATA, Key="too-long/players.csv", Body=f"u1,{feature_line(rows[0])}\nu2,{long_line}\n")
    sm.create_transform_job(**scoring_request("tx-too-long", "too-long/", MaxPayloadInMB=1))
    job = wait(sm, "tx-too-long")
    assert job["TransformJobStatus"] == "Failed"
    assert (
        f"ClientError: s3://{DATA}/too-long/players.csv: line 2 is longer than MaxPayloadInMB (1 MB)"
        in (job["FailureReason"])
    )


# --------------------------------------------------------------------------- failures


def test_malformed_rows_fail_the_job_with_the_object_and_lines_and_leave_no_output_for_it(emulator_client, scorer):
    sm, s3 = emulator_client("sagemaker"), emulator_client("s3")
    good = make_rows(40, "classification", seed=3)
    bad = make_rows(40, "classification", seed=4)
    bad[6] = {**bad[6], "product": "bingo"}  # line 7 of its file
    for operator, rows in (("op-good", good), ("op-bad", bad)):
        s3.put_object(Bucket=DATA, Key=f"malformed/{operator}/players.csv", Body=players(rows, operator)[1])
    sm.create_transform_job(**scoring_request("tx-malformed", "malformed/"))
    job = wait(sm, "tx-malformed")
    assert job["TransformJobStatus"] == "Failed"
    reason = job["FailureReason"]
    assert reason.startswith(f"ClientError: s3://{DATA}/malformed/op-bad/players.csv: lines 1-40: ")
    assert "the model answered 400" in reason and "product must be one of" in reason  # the container's words
    assert "(line 7 of the object)" in reason
    assert "op-good" not in reason
    written = outputs(s3, "tx-malformed")
    assert set(written) == {"op-good/players.csv.out"}  # the other object is still transformed
    assert len(written["op-good/players.csv.out"].splitlines()) == 40
    assert not s3.list_multipart_uploads(Bucket=MODELS, Prefix="scoring/tx-malformed/").get("Uploads")


def test_an_empty_prefix_fails_the_job_and_says_where_it_looked(emulator, emulator_client, scorer):
    sm = emulator_client("sagemaker")
    sm.create_transform_job(**scoring_request("tx-empty", "nothing-here/"))
    job = wait(sm, "tx-empty")
    assert job["TransformJobStatus"] == "Failed"
    assert job["FailureReason"].startswith("ClientError: No S3 objects found under S3 URL ")
    assert f"s3://{DATA}/nothing-here/" in job["FailureReason"]
    assert process_of(emulator, "transform job tx-empty ") is None


@pytest.mark.parametrize(
    ("case", "change", "reason"),
    [
        (
            "manifest",
            {"S3DataType": "ManifestFile"},
            "ClientError: S3DataType ManifestFile is not supported by the local runtime",
        ),
        (
            "gzip",
            {"CompressionType": "Gzip"},
            "ClientError: CompressionType Gzip is not supported by the local runtime",
        ),
        (
            "recordio",
            {"SplitType": "RecordIO"},
            "ClientError: SplitType RecordIO is not supported by the local runtime",
        ),
        (
            "two-ranges",
            {"InputFilter": "$[0:2,4:]"},
            "ClientError: Invalid JsonPath: $[0:2,4:]: only single range filters of format (eg: [1:5]) are supported",
        ),
        ("json-path", {"InputFilter": "$.features"}, "is not a JSONPath SageMaker applies to CSV"),
    ],
)
def test_what_the_local_runtime_cannot_do_fails_the_job_with_the_reason(emulator_client, scorer, case, change, reason):
    sm = emulator_client("sagemaker")
    request = scoring_request(f"tx-cannot-{case}", f"scoring/{SCORER}/")
    if "S3DataType" in change:
        request["TransformInput"]["DataSource"]["S3DataSource"].update(change)
    elif "InputFilter" in change:
        request["DataProcessing"].update(change)
    else:
        request["TransformInput"].update(change)
    sm.create_transform_job(**request)
    job = wait(sm, f"tx-cannot-{case}")
    assert job["TransformJobStatus"] == "Failed"
    assert reason in job["FailureReason"]


@pytest.mark.parametrize(
    ("case", "change", "message"),
    [
        ("unknown model", {"ModelName": "no-such-model"}, "Could not find model"),
        (
            "underscore",
            {"DataProcessing": {"InputFilter": "$['user_id']"}},
            'Invalid InputFilter: "$[\'user_id\']". Unexpected "_" in JsonPath. Supported operators for "text/csv" are',
        ),
        ("no root", {"DataProcessing": {"OutputFilter": "[0,-1]"}}, 'Invalid OutputFilter: "[0,-1]"'),
        (
            "payload",
            {"MaxPayloadInMB": 101, "MaxConcurrentTransforms": 1},
            "MaxPayloadInMB 101 is more than the 100 MB",
        ),
        (
            "payload x concurrency",
            {"MaxPayloadInMB": 30, "MaxConcurrentTransforms": 4},
            "(4 x 30 MB) is more than 100 MB",
        ),
    ],
)
def test_a_request_sagemaker_refuses_is_refused_at_creation(emulator_client, scorer, case, change, message):
    sm = emulator_client("sagemaker")
    name = "tx-refused-" + case.replace(" ", "-")
    with pytest.raises(ClientError) as refused:
        sm.create_transform_job(**scoring_request(name, f"scoring/{SCORER}/", **change))
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert message in refused.value.response["Error"]["Message"]
    assert name not in [j["TransformJobName"] for j in sm.list_transform_jobs()["TransformJobSummaries"]]


# --------------------------------------------------------------------------- stopping


def test_stop_transform_job_stops_its_serve_process_and_writes_nothing(emulator, emulator_client, scorer):
    sm, s3 = emulator_client("sagemaker"), emulator_client("s3")
    rows = make_rows(20000, "classification", seed=6)
    s3.put_object(Bucket=DATA, Key="to-stop/op/players.csv", Body=players(rows, "op")[1])
    sm.create_transform_job(**scoring_request("tx-stop", "to-stop/", BatchStrategy="SingleRecord"))  # slow on purpose
    pid = wait_for_process(emulator, "transform job tx-stop ")
    assert pid, "the serve process never started"
    sm.stop_transform_job(TransformJobName="tx-stop")
    assert sm.describe_transform_job(TransformJobName="tx-stop")["TransformJobStatus"] in ("Stopping", "Stopped")
    job = wait(sm, "tx-stop", ("Stopped",))
    assert job["TransformJobStatus"] == "Stopped" and "FailureReason" not in job
    assert gone(pid, 30), "the serve process still runs"
    assert outputs(s3, "tx-stop") == {}
    assert not s3.list_multipart_uploads(Bucket=MODELS, Prefix="scoring/tx-stop/").get("Uploads")
    with pytest.raises(ClientError, match="in status Stopped"):
        sm.stop_transform_job(TransformJobName="tx-stop")
    with pytest.raises(ClientError, match="Could not find transform job"):
        sm.stop_transform_job(TransformJobName="tx-no-such-job")


def baseline_emulator(folder: Path, iam: str):
    """An emulator of the test's own, with the container's baseline artifact (every score 0.0) in its model bucket
    and buckets for data and output."""
    from vwt_model.baseline import build_artifact

    artifact = build_artifact(SCHEMA["features"], "classification", folder / "baseline" / "model.tar.gz")
    running = start_emulator(folder / "emulator", iam=iam)
    s3 = running.client("s3")
    for bucket in (DATA, MODELS):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.upload_file(str(artifact), MODELS, "baseline/model.tar.gz")
    return running


def test_stopping_the_emulator_stops_a_running_transform_job(tmp_path):
    """An emulator of its own: the test stops it."""
    other = baseline_emulator(tmp_path, "off")
    try:
        other.client("s3").put_object(
            Bucket=DATA, Key="long/players.csv", Body=players(make_rows(20000, "classification"), "p")[1]
        )
        sm = other.client("sagemaker")
        sm.create_model(
            ModelName=SCORER,
            ExecutionRoleArn=ROLE,
            PrimaryContainer={"Image": IMAGE, "ModelDataUrl": f"s3://{MODELS}/baseline/model.tar.gz"},
        )
        sm.create_transform_job(**scoring_request("tx-long", "long/", BatchStrategy="SingleRecord"))
        pid = wait_for_process(other, "transform job tx-long ")
        assert pid, "the serve process never started"
    finally:
        other.stop()
    assert gone(pid, 30)


# --------------------------------------------------------------------------- IAM, as AWS enforces it


def _sagemaker_role(iam, name: str, statements: list[dict]) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(
        RoleName=name, PolicyName="base", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements})
    )
    return arn


def test_a_model_role_that_may_not_read_the_input_fails_the_job_with_aws_message(tmp_path):
    """Enforced IAM (an emulator of its own): SageMaker reads and writes as the model's execution role."""
    enforced = baseline_emulator(tmp_path, "enforce")
    try:
        s3, sm, iam = enforced.client("s3"), enforced.client("sagemaker"), enforced.client("iam")
        users, body = players(make_rows(25, "classification"), "p")
        s3.put_object(Bucket=DATA, Key="scoring/enforced/op/players.csv", Body=body)
        role = _sagemaker_role(
            iam,
            "transform-scorer",
            [
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{MODELS}/baseline/*"},
                {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{DATA}"},
                {
                    "Effect": "Allow",
                    "Action": ["s3:PutObject", "s3:AbortMultipartUpload"],
                    "Resource": f"arn:aws:s3:::{MODELS}/scoring/*",
                },
            ],
        )
        sm.create_model(
            ModelName=SCORER,
            ExecutionRoleArn=role,
            PrimaryContainer={"Image": "vwt-model:local", "ModelDataUrl": f"s3://{MODELS}/baseline/model.tar.gz"},
        )
        sm.create_transform_job(**scoring_request("tx-denied", "scoring/enforced/"))
        job = wait(sm, "tx-denied")
        assert job["TransformJobStatus"] == "Failed"
        assert job["FailureReason"].startswith(f"ClientError: could not read the input s3://{DATA}/scoring/enforced/")
        assert (
            f"assumed-role/transform-scorer/SageMaker is not authorized to perform: s3:GetObject on resource: "
            f"arn:aws:s3:::{DATA}/scoring/enforced/op/players.csv" in job["FailureReason"]
        )
        assert outputs(s3, "tx-denied") == {}

        iam.put_role_policy(  # the grant it lacked: the same job now completes
            RoleName="transform-scorer",
            PolicyName="read-input",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{DATA}/scoring/*"}
                    ],
                }
            ),
        )
        sm.create_transform_job(**scoring_request("tx-allowed", "scoring/enforced/"))
        job = wait(sm, "tx-allowed")
        assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
        assert outputs(s3, "tx-allowed") == {"op/players.csv.out": "".join(f"{u},0.0\n" for u in users).encode()}
    finally:
        enforced.stop()


# --------------------------------------------------------------------------- Step Functions


def test_a_step_functions_sync_task_gives_the_final_describe_transform_job(emulator_client, scorer):
    s3, sm = emulator_client("s3"), emulator_client("sagemaker")
    s3.put_object(Bucket=DATA, Key="sfn/op/players.csv", Body=players(make_rows(20, "classification"), "op")[1])
    params = scoring_request("unused", "sfn/")
    params.pop("TransformJobName")
    params["TransformJobName.$"] = "$.name"
    params["TransformOutput"]["S3OutputPath"] = f"s3://{MODELS}/scoring/tx-sfn/"
    definition = {
        "StartAt": "Score",
        "States": {
            "Score": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:createTransformJob.sync",
                "Parameters": params,
                "ResultPath": "$.scoring",
                "End": True,
            }
        },
    }
    result = run(emulator_client("stepfunctions"), definition, {"name": "tx-sfn"}, name="tx-sfn", timeout=240)
    assert result["status"] == "SUCCEEDED", result
    scoring = json.loads(result["output"])["scoring"]
    described = sm.describe_transform_job(TransformJobName="tx-sfn")
    assert scoring["TransformJobStatus"] == "Completed" and scoring["TransformJobArn"] == described["TransformJobArn"]
    assert scoring["TransformEndTime"] == int(described["TransformEndTime"].timestamp() * 1000)  # epoch milliseconds
    assert scoring["DataProcessing"] == described["DataProcessing"]
    assert set(outputs(s3, "tx-sfn")) == {"op/players.csv.out"}


# --------------------------------------------------------------------------- the CSV JSONPath subset


RECORD = ["u1", "a", "b", "c", "d", "e", "f"]


@pytest.mark.parametrize(
    ("path", "selected"),
    [
        ("$", RECORD),
        ("$[0]", ["u1"]),
        ("$[-1]", ["f"]),
        ("$[1:]", ["a", "b", "c", "d", "e", "f"]),  # every column but the first (the guide's ID example)
        ("$[1:4]", ["a", "b", "c", "d"]),  # "the second through fifth columns": the end is inclusive
        ("$[:2]", ["u1", "a", "b"]),
        ("$[0,-1]", ["u1", "f"]),
        ("$[1,3,5]", ["a", "c", "e"]),
        ("$[0,5:]", ["u1", "e", "f"]),  # the API reference's OutputFilter example
        ("$[-2:]", ["e", "f"]),
        ("$[2:-2]", ["b", "c", "d", "e"]),
        ("$[ 0 , -1 ]", ["u1", "f"]),
        ("$[3:100]", ["c", "d", "e", "f"]),  # a range is clipped to the record, as JSONPath's slices are
    ],
)
def test_the_csv_filters_select_as_the_developer_guide_says(path, selected):
    assert CsvPath(path, "InputFilter").select(RECORD) == selected
    quick = CsvPath(path, "InputFilter")
    try:
        projected = quick.project([",".join(RECORD).encode()])
    except (IndexError, ValueError):  # no quick way for this one, or the record needs the careful way
        return
    assert projected == [",".join(selected).encode()]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("$[7]", "selects column 7, but the record has 7 columns"),
        ("$[-8]", "selects column -8"),
        ("$[9:]", "selects no column"),
        (
            "$[0:1,3:]",
            "only single range filters of format (eg: [1:5]) are supported. Format [0:1,3:] is not supported",
        ),
        ("$['id']", "is neither an index nor a range"),
        ("$.features", "only index-based paths apply"),
    ],
)
def test_a_filter_that_does_not_fit_says_why(path, message):
    with pytest.raises(FilterError, match=None) as err:
        CsvPath(path, "InputFilter").select(RECORD)
    assert message in str(err.value)


def test_the_quick_projection_agrees_with_the_careful_one():
    rng = random.Random(7)
    paths = ["$[1:]", "$[0,-1]", "$[2]", "$[-2:]", "$[0,3:]", "$[1:3]", "$[-1,0]", "$[:1]", "$[2:]"]
    for _ in range(200):
        records = [
            ",".join(str(rng.randint(0, 99)) for _ in range(rng.randint(1, 6))).encode()
            for _ in range(rng.randint(1, 8))
        ]
        for text in paths:
            path = CsvPath(text, "OutputFilter")
            careful = []
            for r in records:
                try:
                    careful.append(b",".join(path.select(r.split(b","))))
                except FilterError:
                    careful = None
                    break
            try:
                quick = path.project(records)
            except (IndexError, ValueError):
                continue  # the careful way takes over, as the runtime does
            assert careful is not None and quick == careful, (text, records)
