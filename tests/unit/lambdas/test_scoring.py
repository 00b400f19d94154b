"""Batch scoring's Lambda steps (pipeline/score.py) against moto's S3, SNS and SQS, with the test catalogue."""

from __future__ import annotations

import csv
import io
import json

import boto3
import pytest
from pipeline import score

from tests.helpers.lambdas import ENVIRON as API_ENVIRON
from tests.helpers.lambdas import REGION, TEST_CATALOGUE, Catalogue, FakeEndpoint, FakeSns, answer, event, good_risk

SIZING = {"instance_type": "ml.m5.xlarge", "records_per_instance": 4, "max_instances": 2}
CHECK = {"bucket": "data", "prefix": "scoring/risk/", "model": "risk", "operators": ["northbet", "lucky-lane"]}


@pytest.fixture
def catalogue():
    return Catalogue(TEST_CATALOGUE)


@pytest.fixture
def aws(moto):
    s3 = boto3.client("s3", region_name=REGION)
    for bucket in ("data", "models", "results"):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    sns, sqs = boto3.client("sns", region_name=REGION), boto3.client("sqs", region_name=REGION)
    topics = {name: sns.create_topic(Name=f"test-{name}")["TopicArn"] for name in ("intervention", "operator")}
    queues = {}
    for name, topic, operator in (
        ("intervention", "intervention", None),
        ("northbet", "operator", "northbet"),
        ("lucky-lane", "operator", "lucky-lane"),
    ):
        url = sqs.create_queue(QueueName=f"q-{name}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        attributes = {"RawMessageDelivery": "true"}
        if operator:
            attributes["FilterPolicy"] = json.dumps({"operator_id": [operator]})
        sns.subscribe(TopicArn=topics[topic], Protocol="sqs", Endpoint=arn, Attributes=attributes)
        queues[name] = url
    environ = {
        "VWT_ENVIRONMENT": "test",
        "VWT_INTERVENTION_TOPIC_ARN": topics["intervention"],
        "VWT_OPERATOR_TOPIC_ARN": topics["operator"],
    }
    return {"s3": s3, "sns": sns, "sqs": sqs, "queues": queues, "environ": environ}


def drain(sqs, url):
    out = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return out
        for m in got:
            out.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def risk_line(user_id, age=30, country="nl", deposit="10.5", verified="true", affiliate="false"):
    return f"{user_id},{age},{country},{deposit},{verified},{affiliate}"


# --------------------------------------------------------------------------- check


def test_check_counts_every_operators_players_and_sizes_the_transform(aws, catalogue):
    s3 = aws["s3"]
    s3.put_object(
        Bucket="data", Key="scoring/risk/northbet/a.csv", Body="\n".join(risk_line(f"n{i}") for i in range(5))
    )
    s3.put_object(Bucket="data", Key="scoring/risk/lucky-lane/b.csv", Body=risk_line("l1", deposit="") + "\n\n")
    result = score.check(s3, catalogue, {**CHECK, "sizing": SIZING})
    assert result["rows"] == 6 and result["objects"] == 2
    assert result["operators"] == {"northbet": 5, "lucky-lane": 1}
    assert (result["instance_type"], result["instance_count"]) == ("ml.m5.xlarge", 2)  # 6 rows, 4 per instance


@pytest.mark.parametrize(
    ("key", "body", "says"),
    [
        (
            "northbet/a.csv",
            risk_line("p1", age=130),
            "s3://data/scoring/risk/northbet/a.csv line 1 (user_id p1): age must be at most 120",
        ),
        ("northbet/a.csv", risk_line("p1") + "\n" + risk_line("p2", country="fr"), "line 2 (user_id p2): country"),
        (
            "northbet/a.csv",
            "user_id,age,country,deposit,verified,affiliate\n" + risk_line("p1"),
            "line 1: a header line",
        ),
        ("northbet/a.csv", "p1,30,nl", "line 1: 3 fields, expected 6 (user_id, then age, country"),
        ("northbet/a.csv", risk_line("p1", verified="maybe"), "verified must be"),
        ("northbet/a.csv", risk_line("p1", age="old"), "age must be a whole number"),
        ("northbet/a.csv", risk_line(""), "line 1: user_id is empty"),
        (
            "nobody/a.csv",
            risk_line("p1"),
            "not in an operator's folder: put each operator's players in scoring/risk/<operator>/",
        ),
        ("a.csv", risk_line("p1"), "not in an operator's folder"),
    ],
)
def test_bad_rows_fail_the_check_with_the_file_and_line(aws, catalogue, key, body, says):
    aws["s3"].put_object(Bucket="data", Key=f"scoring/risk/{key}", Body=body)
    with pytest.raises(score.InvalidScoringData) as raised:
        score.check(aws["s3"], catalogue, {**CHECK, "sizing": SIZING})
    assert says in str(raised.value) and "nothing was scored or published" in str(raised.value)


def test_the_first_twenty_problems_are_named_and_the_rest_counted(aws, catalogue):
    body = "\n".join(risk_line(f"p{i}", age=5) for i in range(25))
    aws["s3"].put_object(Bucket="data", Key="scoring/risk/northbet/a.csv", Body=body)
    with pytest.raises(score.InvalidScoringData) as raised:
        score.check(aws["s3"], catalogue, {**CHECK, "sizing": SIZING})
    message = str(raised.value)
    assert message.startswith("25 problem(s)") and "(and 5 more)" in message and message.count("\n") == 20


def test_no_players_says_where_it_looked(aws, catalogue):
    with pytest.raises(score.NoScoringData, match=r"no players to score under s3://data/scoring/risk/"):
        score.check(aws["s3"], catalogue, {**CHECK, "sizing": SIZING})


# --------------------------------------------------------------------------- publish


def transform_output(s3, job, operator, rows):
    """What the transform job leaves: `user_id,score` per line (JoinSource Input, OutputFilter $[0,-1])."""
    body = "".join(f"{u},{s!r}\n" for u, s in rows)
    s3.put_object(Bucket="models", Key=f"scoring/{job}/{operator}/players.csv.out", Body=body)


PUBLISH = {
    "bucket": "models",
    "prefix": "scoring/risk-job-1/",
    "model": "risk",
    "serving": {"version": "3", "training_job": "risk-train-9"},
    "job_name": "risk-job-1",
    "date": "2026-11-29",
    "results_bucket": "results",
}


def test_scores_become_the_apis_groups_events_and_a_results_file_per_operator(
    aws, catalogue, make_service, catalogue_doc
):
    s3 = aws["s3"]
    north = [(f"n{i}", i / 10) for i in range(10)]
    lucky = [("l1", 0.95), ("l2", 0.05)]
    transform_output(s3, "risk-job-1", "northbet", north)
    transform_output(s3, "risk-job-1", "lucky-lane", lucky)
    result = score.publish_scores(s3, aws["sns"], catalogue, aws["environ"], PUBLISH)
    assert result["records"] == result["published"] == 12
    assert result["results"] == [
        "s3://results/lucky-lane/risk/2026-11-29.csv",
        "s3://results/northbet/risk/2026-11-29.csv",
    ]
    # the API, asked about the same scores, answers the same risk groups and levels
    catalogue_doc["max_records"] = 10
    svc = make_service(FakeEndpoint(scores=[s for _, s in north]), FakeSns(), doc=catalogue_doc)
    _, api = answer(svc.handle(event(body={"records": [good_risk(user_id=u) for u, _ in north]})))
    expected = {p["user_id"]: (p["risk_group"], p["intervention_level"]) for p in api["predictions"]}
    rows = list(
        csv.DictReader(
            io.StringIO(s3.get_object(Bucket="results", Key="northbet/risk/2026-11-29.csv")["Body"].read().decode())
        )
    )
    assert {r["user_id"]: (r["risk_group"], r["intervention_level"]) for r in rows} == expected
    assert {r["model_version"] for r in rows} == {"risk-train-9"}
    groups = [g for g, _ in expected.values()]
    assert result["operators"]["northbet"] == {
        "records": 10,
        **{g: groups.count(g) for g in ("low", "medium", "high", "severe")},
    }
    events = drain(aws["sqs"], aws["queues"]["intervention"])
    assert len(events) == 12 and {e["operator_id"] for e in events} == {"northbet", "lucky-lane"}
    north_events = sorted((e for e in events if e["operator_id"] == "northbet"), key=lambda e: e["event_id"])
    assert north_events[0]["event_id"].startswith("risk-job-1.northbet:")
    assert len({e["event_id"] for e in events}) == 12
    assert all(e["event_type"] == "intervention" and e["schema_version"] == "1.0" for e in events)


def test_the_marketing_model_feeds_each_operator_its_own_queue(aws, catalogue):
    s3 = aws["s3"]
    transform_output(s3, "spend-job-1", "northbet", [("n1", 42.0), ("n2", 7.5)])
    transform_output(s3, "spend-job-1", "lucky-lane", [("l1", 1.0)])
    result = score.publish_scores(
        s3, aws["sns"], catalogue, aws["environ"], {**PUBLISH, "model": "spend", "prefix": "scoring/spend-job-1/"}
    )
    assert result["operators"] == {"lucky-lane": {"records": 1}, "northbet": {"records": 2}}
    assert sorted(e["user_id"] for e in drain(aws["sqs"], aws["queues"]["northbet"])) == ["n1", "n2"]
    assert [e["user_id"] for e in drain(aws["sqs"], aws["queues"]["lucky-lane"])] == ["l1"]
    body = s3.get_object(Bucket="results", Key="northbet/spend/2026-11-29.csv")["Body"].read().decode()
    assert body.splitlines()[0] == "user_id,prediction,target,model_version"


def test_large_runs_publish_in_parts_with_one_event_id_sequence(aws, catalogue, monkeypatch):
    monkeypatch.setattr(score, "PART_ROWS", 7)
    transform_output(aws["s3"], "risk-job-1", "northbet", [(f"n{i}", 0.5) for i in range(20)])
    result = score.publish_scores(aws["s3"], aws["sns"], catalogue, aws["environ"], PUBLISH)
    assert result["records"] == 20
    ids = sorted(int(e["event_id"].rsplit(":", 1)[1]) for e in drain(aws["sqs"], aws["queues"]["intervention"]))
    assert ids == list(range(20))


def test_a_broken_output_line_fails_before_the_results_file_is_written(aws, catalogue):
    aws["s3"].put_object(Bucket="models", Key="scoring/risk-job-1/northbet/players.csv.out", Body=b"n1,0.5\nn2\n")
    with pytest.raises(score.ScoringOutputError, match="line 2: expected user_id,score"):
        score.publish_scores(aws["s3"], aws["sns"], catalogue, aws["environ"], PUBLISH)
    assert "Contents" not in aws["s3"].list_objects_v2(Bucket="results")


def test_no_output_and_a_missing_topic_are_refused(aws, catalogue):
    with pytest.raises(score.ScoringOutputError, match="left no output"):
        score.publish_scores(aws["s3"], aws["sns"], catalogue, aws["environ"], PUBLISH)
    with pytest.raises(score.InvalidEvent, match="lacks the intervention topic"):
        score.publish_scores(aws["s3"], aws["sns"], catalogue, {}, PUBLISH)


def test_the_api_and_the_scoring_events_use_the_same_operator_keys():
    assert set(json.loads(API_ENVIRON["OPERATOR_KEYS"]).values()) == set(CHECK["operators"])
