"""The local Ground Truth: a labelling job's "humans" answer from the operators' label files, and automated labelling
labels what its model is sure of, as Ground Truth's active learning does.

The input is what the pipeline writes (`prepare_ground_truth` of the label Lambda, run here against the emulator's
S3); every test talks to the emulator subprocess with boto3, as the state machine's `.sync` task does.
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
import time

import pytest

from tests.helpers import lambda_packages_importable
from vwt_deploy.emulator.runtime.sagemaker.labeling import plan_labels, threshold

lambda_packages_importable()
from pipeline import label  # noqa: E402 - lambdas/ is on the path only now

DATA = "vwt-label-data"
MODELS = "vwt-label-models"
ROLE = "arn:aws:iam::123456789012:role/sagemaker"
PLAYERS = 600
ANSWERED = 0.8  # the share of players an operator labelled


def truth(x: float, noise: float) -> int:
    return int(x + noise > 0.6)


@pytest.fixture(scope="module")
def data(emulator_client) -> dict[str, int]:
    """Training data of PLAYERS players (a label the feature x nearly decides), operator label files for 80% of
    them, split over two files in shuffled order, and the pipeline's Ground Truth input. Returns the answers."""
    s3 = emulator_client("s3")
    for bucket in (DATA, MODELS):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    rng = random.Random(7)
    rows, answers = [], {}
    for i in range(PLAYERS):
        x = rng.random()
        user = f"u{i:04d}"
        rows.append([user, f"{x:.4f}", rng.choice(["casino", "poker"])])
        if rng.random() < ANSWERED:
            answers[user] = truth(x, rng.gauss(0, 0.03))
    s3.put_object(Bucket=DATA, Key="training/data.csv", Body=_csv(["user_id", "x", "product"], rows))
    labelled = list(answers.items())
    rng.shuffle(labelled)
    half = len(labelled) // 2
    s3.put_object(Bucket=DATA, Key="labels/a.csv", Body=_csv(["user_id", "label"], labelled[:half]))
    s3.put_object(
        Bucket=DATA,
        Key="labels/b.csv",
        Body=_csv(["label", "user_id"], [(y and "yes" or "no", u) for u, y in labelled[half:]]),
    )
    prepared = label.prepare_ground_truth(
        s3,
        {
            "source": {"bucket": DATA, "prefix": "training/"},
            "output": {"bucket": MODELS, "prefix": "labeling/input/"},
            "labels": {"bucket": DATA, "prefix": "labels/"},
            "categories": ["0", "1"],
            "title": "Label players",
        },
    )
    assert prepared["rows"] == PLAYERS
    return answers


def _csv(header: list[str], rows) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def job(emulator_client, name: str, automated: bool, manifest: str = "labeling/input/input.manifest") -> dict:
    sm = emulator_client("sagemaker")
    args = dict(
        LabelingJobName=name,
        LabelAttributeName="vwt-label",
        InputConfig={"DataSource": {"S3DataSource": {"ManifestS3Uri": f"s3://{MODELS}/{manifest}"}}},
        OutputConfig={"S3OutputPath": f"s3://{MODELS}/labeling/output/"},
        RoleArn=ROLE,
        LabelCategoryConfigS3Uri=f"s3://{MODELS}/labeling/input/categories.json",
        HumanTaskConfig={
            "WorkteamArn": "arn:aws:sagemaker:eu-west-1:123456789012:workteam/private-crowd/local",
            "UiConfig": {"UiTemplateS3Uri": f"s3://{MODELS}/labeling/input/template.liquid.html"},
            "PreHumanTaskLambdaArn": "arn:aws:lambda:eu-west-1:568282634449:function:PRE-TextMultiClass",
            "AnnotationConsolidationConfig": {
                "AnnotationConsolidationLambdaArn": "arn:aws:lambda:eu-west-1:568282634449:function:ACS-TextMultiClass"
            },
            "TaskTitle": "Label players",
            "TaskDescription": "Decide the label",
            "NumberOfHumanWorkersPerDataObject": 1,
            "TaskTimeLimitInSeconds": 300,
        },
    )
    if automated:
        args["LabelingJobAlgorithmsConfig"] = {
            "LabelingJobAlgorithmSpecificationArn": "arn:aws:sagemaker:eu-west-1:027400017018:"
            "labeling-job-algorithm-specification/text-classification"
        }
    arn = sm.create_labeling_job(**args)["LabelingJobArn"]
    assert arn.endswith(f":labeling-job/{name}")
    deadline = time.monotonic() + 120
    while True:
        described = sm.describe_labeling_job(LabelingJobName=name)
        if described["LabelingJobStatus"] not in ("Initializing", "InProgress") or time.monotonic() > deadline:
            return described
        time.sleep(0.2)


def output(emulator_client, described: dict) -> list[dict]:
    uri = described["LabelingJobOutput"]["OutputDatasetS3Uri"]
    bucket, key = uri[5:].split("/", 1)
    body = emulator_client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    return [json.loads(line) for line in body.splitlines()]


def test_without_automation_every_object_goes_to_the_humans(emulator_client, data):
    described = job(emulator_client, "gt-human", automated=False)
    assert described["LabelingJobStatus"] == "Completed", described.get("FailureReason")
    counters = described["LabelCounters"]
    assert counters == {
        "TotalLabeled": len(data),
        "HumanLabeled": len(data),
        "MachineLabeled": 0,
        "FailedNonRetryableError": 0,
        "Unlabeled": PLAYERS - len(data),
    }
    assert described["LabelingJobOutput"]["OutputDatasetS3Uri"] == (
        f"s3://{MODELS}/labeling/output/gt-human/manifests/output/output.manifest"
    )
    lines = output(emulator_client, described)
    assert len(lines) == PLAYERS
    for line in lines:  # joined by the player, whatever the order of the label files
        user = line["vwt-user-id"]
        if user not in data:
            assert "vwt-label" not in line and "vwt-label-metadata" not in line
            continue
        meta = line["vwt-label-metadata"]
        assert line["vwt-label"] == data[user] and meta["class-name"] == str(data[user])
        assert meta["human-annotated"] == "yes" and meta["type"] == "groundtruth/text-classification"
        assert meta["job-name"] == "labeling-job/gt-human"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}", meta["creation-date"])
        assert line["source"].startswith("x=")  # the input object passes through


def test_automated_labelling_machine_labels_only_what_it_is_sure_of(emulator_client, data):
    described = job(emulator_client, "gt-auto", automated=True)
    assert described["LabelingJobStatus"] == "Completed", described.get("FailureReason")
    c = described["LabelCounters"]
    assert c["HumanLabeled"] + c["MachineLabeled"] + c["Unlabeled"] == PLAYERS
    assert c["TotalLabeled"] == c["HumanLabeled"] + c["MachineLabeled"]
    assert c["MachineLabeled"] > 0 and c["HumanLabeled"] > 0 and c["Unlabeled"] > 0
    assert c["HumanLabeled"] < len(data)  # the machine spared the humans some of their answers
    lines = output(emulator_client, described)
    machine = [line for line in lines if line.get("vwt-label-metadata", {}).get("human-annotated") == "no"]
    human = [line for line in lines if line.get("vwt-label-metadata", {}).get("human-annotated") == "yes"]
    assert (len(machine), len(human)) == (c["MachineLabeled"], c["HumanLabeled"])
    assert all(line["vwt-label"] == data[line["vwt-user-id"]] for line in human)
    # the threshold the job found on its validation set, as its log says
    logs = emulator_client("logs").get_log_events(logGroupName="/aws/sagemaker/LabelingJobs", logStreamName="gt-auto")
    said = " ".join(e["message"] for e in logs["events"])
    found = float(re.search(r"threshold ([0-9.]+)", said).group(1))
    assert 0.5 <= found < 1
    assert all(line["vwt-label-metadata"]["confidence"] >= round(found, 4) for line in machine)
    # machine labels agree with what an operator would have said, at Ground Truth's target
    checked = [line for line in machine if line["vwt-user-id"] in data]
    agree = sum(line["vwt-label"] == data[line["vwt-user-id"]] for line in checked)
    assert checked and agree / len(checked) >= 0.9


def test_bad_label_files_fail_the_job_with_row_level_reasons(emulator_client, data):
    s3 = emulator_client("s3")
    s3.put_object(Bucket=DATA, Key="bad/a.csv", Body=_csv(["user_id", "label"], [["u0001", "1"], ["ghost", "1"]]))
    s3.put_object(Bucket=DATA, Key="bad/b.csv", Body=_csv(["user_id", "label"], [["u0001", "0"], ["u0002", "maybe"]]))
    s3.put_object(
        Bucket=MODELS,
        Key="labeling/bad/input.manifest",
        Body=s3.get_object(Bucket=MODELS, Key="labeling/input/input.manifest")["Body"].read(),
    )
    s3.put_object(
        Bucket=MODELS, Key="labeling/bad/workforce.json", Body=json.dumps({"labels": f"s3://{DATA}/bad/"}).encode()
    )
    described = job(emulator_client, "gt-bad", automated=False, manifest="labeling/bad/input.manifest")
    assert described["LabelingJobStatus"] == "Failed"
    reason = described["FailureReason"]
    assert f"s3://{DATA}/bad/a.csv line 3, user_id ghost: no object of the input manifest" in reason
    assert f"s3://{DATA}/bad/b.csv line 2, user_id u0001: labelled 0, but 1 at s3://{DATA}/bad/a.csv line 2" in reason
    assert "b.csv line 3, user_id u0002: 'maybe' is none of the categories 0, 1" in reason
    assert "LabelingJobOutput" not in described
    listed = s3.list_objects_v2(Bucket=MODELS, Prefix="labeling/output/gt-bad/")
    assert "Contents" not in listed  # nothing written


def test_job_names_are_unique_and_unknown_jobs_are_not_found(emulator_client, data):
    from botocore.exceptions import ClientError

    job(emulator_client, "gt-once", automated=False)
    with pytest.raises(ClientError, match="ResourceInUse"):
        job(emulator_client, "gt-once", automated=False)
    with pytest.raises(ClientError, match="ResourceNotFound"):
        emulator_client("sagemaker").describe_labeling_job(LabelingJobName="gt-never")


# --------------------------------------------------------------------------- the decision itself


def test_the_threshold_is_the_lowest_confidence_at_which_labels_are_95_percent_right():
    scored = [(0.99, True)] * 50 + [(0.9, True)] * 40 + [(0.8, False)] * 5 + [(0.7, False)] * 20
    assert threshold(scored) == 0.9  # down to 0.8, 90 of 95 are right: 94.7%
    assert threshold(scored + [(0.85, True)] * 10) == 0.8  # now 100 of 105: 95.2%
    assert threshold([(0.6, False)] * 3) is None


def test_the_plan_samples_by_the_jobs_name_and_sends_the_unsure_to_the_humans():
    rng = random.Random(1)
    objects, answers = [], {}
    for i in range(1000):
        x = rng.random()
        objects.append({"source": f"x={x:.3f}, product=casino"})
        answers[i] = int(x > 0.5)
    plan = plan_labels(objects, answers, 2, automated=True, seed="job-a")
    assert plan.sampled == 400  # 20% validation and 20% training below 5,000 objects
    machine = {i for i, (_, _, human) in plan.labels.items() if not human}
    assert machine and all(plan.labels[i][1] >= plan.threshold for i in machine)
    assert len(plan.labels) == 1000  # every object had an answer: none is left unlabelled
    assert plan_labels(objects, answers, 2, automated=True, seed="job-a").labels == plan.labels
    assert plan_labels(objects, answers, 2, automated=True, seed="job-b").labels != plan.labels
