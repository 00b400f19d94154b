"""Delivery with moto: intervention topic -> intervention queue (with its dead-letter queue), operator topic ->
queue."""

from __future__ import annotations

import json

import boto3
import pytest
from predict import publish as publish_mod

from tests.helpers.lambdas import REGION, FakeEndpoint, FakeSns, answer, event, good_risk, good_spend


@pytest.fixture
def consumers(moto):
    """The consumers of the Terraform issue, in moto: topics, the intervention queue with a DLQ, an operator queue."""
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    topics = {name: sns.create_topic(Name=f"test-{name}")["TopicArn"] for name in ("intervention", "operator")}
    dlq = sqs.create_queue(QueueName="test-intervention-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queues = {
        "intervention": sqs.create_queue(
            QueueName="test-intervention",
            Attributes={
                "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}),
                "VisibilityTimeout": "0",
            },
        )["QueueUrl"],
        "operator": sqs.create_queue(QueueName="test-operator")["QueueUrl"],
    }
    for name, url in queues.items():
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topics[name], Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    yield {"sns": sns, "sqs": sqs, "topics": topics, "queues": queues, "dlq": dlq}


def _drain(sqs, url):
    out = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
        messages = got.get("Messages", [])
        if not messages:
            return out
        for m in messages:
            out.append(m)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def _service(make_service, consumers, scores):
    return make_service(
        FakeEndpoint(scores=scores),
        consumers["sns"],
        environ={
            "INTERVENTION_TOPIC_ARN": consumers["topics"]["intervention"],
            "OPERATOR_TOPIC_ARN": consumers["topics"]["operator"],
        },
    )


def test_intervention_events_reach_the_intervention_queue(make_service, consumers, catalogue_doc):
    catalogue_doc["max_records"] = 25
    records = [good_risk(user_id=f"u{i}") for i in range(23)]  # 3 batches: 10 + 10 + 3
    svc = make_service(
        FakeEndpoint(scores=lambda rs: [i / 25 for i in range(len(rs))]),
        consumers["sns"],
        doc=catalogue_doc,
        environ={"INTERVENTION_TOPIC_ARN": consumers["topics"]["intervention"]},
    )
    status, body = answer(svc.handle(event(body={"records": records, "request_id": "req-7"})))
    assert status == 200
    messages = _drain(consumers["sqs"], consumers["queues"]["intervention"])
    events = sorted((json.loads(m["Body"]) for m in messages), key=lambda e: int(e["event_id"].split(":")[1]))
    assert len(events) == 23
    first = events[0]
    assert set(first) >= {
        "user_id",
        "model",
        "model_version",
        "score",
        "risk_group",
        "intervention_level",
        "request_id",
        "time",
        "event_id",
    }
    assert (first["user_id"], first["model"], first["model_version"], first["request_id"]) == (
        "u0",
        "risk",
        "v7",
        "req-7",
    )
    assert [e["intervention_level"] for e in events] == [p["intervention_level"] for p in body["predictions"]]
    assert first["time"].endswith("Z")
    attrs = messages[0]["MessageAttributes"]
    assert attrs["model"]["StringValue"] == "risk" and "intervention_level" in attrs
    assert _drain(consumers["sqs"], consumers["queues"]["operator"]) == []


def test_marketing_predictions_reach_the_operator_feed(make_service, consumers):
    status, _ = answer(
        _service(make_service, consumers, [42.0, 7.5]).handle(
            event(model="spend", body={"records": [good_spend(user_id="a"), good_spend(user_id="b")]})
        )
    )
    assert status == 200
    feed = sorted(
        (json.loads(m["Body"]) for m in _drain(consumers["sqs"], consumers["queues"]["operator"])),
        key=lambda e: e["user_id"],
    )
    assert [(e["user_id"], e["prediction"], e["model"]) for e in feed] == [("a", 42.0, "spend"), ("b", 7.5, "spend")]
    assert _drain(consumers["sqs"], consumers["queues"]["intervention"]) == []


def test_an_event_the_consumer_cannot_process_goes_to_the_dead_letter_queue(make_service, consumers):
    assert (
        _service(make_service, consumers, [0.9]).handle(event(body={"records": [good_risk(user_id="z")]}))["statusCode"]
        == 200
    )
    queue, sqs = consumers["queues"]["intervention"], consumers["sqs"]
    for _ in range(2):  # the intervention model fails twice: received, never deleted (visibility timeout 0)
        assert len(sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])) == 1
    assert _drain(sqs, queue) == []  # maxReceiveCount reached: redriven
    dead = _drain(sqs, consumers["dlq"])
    assert len(dead) == 1 and json.loads(dead[0]["Body"])["user_id"] == "z"


def test_an_endpoint_failure_publishes_nothing(make_service, consumers):
    class Throttled:
        def invoke_endpoint(self, **_):
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "InvokeEndpoint")

    svc = make_service(
        Throttled(), consumers["sns"], environ={"INTERVENTION_TOPIC_ARN": consumers["topics"]["intervention"]}
    )
    resp = svc.handle(event(body={"records": [good_risk()]}))
    assert resp["statusCode"] == 503 and resp["headers"]["Retry-After"]
    assert _drain(consumers["sqs"], consumers["queues"]["intervention"]) == []


def test_a_missing_topic_is_503_with_retry_after(make_service, consumers):
    svc = make_service(
        FakeEndpoint(),
        consumers["sns"],
        environ={"INTERVENTION_TOPIC_ARN": f"arn:aws:sns:{REGION}:123456789012:no-such-topic"},
    )
    resp = svc.handle(event(body={"records": [good_risk()], "request_id": "again-1"}))
    status, body = answer(resp)
    assert status == 503 and body["error"] == "publish_failed" and body["request_id"] == "again-1"
    assert resp["headers"]["Retry-After"] == "5"


def test_failed_entries_are_sent_again(make_service):
    class Flaky(FakeSns):
        def publish_batch(self, TopicArn, PublishBatchRequestEntries):
            self.fail_ids = {"1"} if not self.batches else set()
            return super().publish_batch(TopicArn, PublishBatchRequestEntries)

    sns = Flaky()
    status, _ = answer(make_service(FakeEndpoint(), sns).handle(event(body={"records": [good_risk()] * 3})))
    assert status == 200
    assert [len(batch) for _, batch in sns.batches] == [3, 1]  # the one failed entry, once more


def test_entries_that_keep_failing_fail_the_request(make_service):
    sns = FakeSns(fail_ids={"0"})
    status, body = answer(make_service(FakeEndpoint(), sns).handle(event(body={"records": [good_risk()] * 2})))
    assert status == 503 and body["error"] == "publish_failed"
    assert len(sns.batches) == publish_mod.ATTEMPTS


def test_no_retry_once_the_deadline_has_passed():
    import time

    sns = FakeSns(fail_ids={"0"})
    entries = publish_mod.entries([{"n": 1}], [publish_mod.attributes({"model": "risk"})])
    with pytest.raises(publish_mod.PublishFailure, match="no time left"):
        publish_mod.publish(sns, "arn:t", entries, deadline=time.perf_counter() - 1)
    assert len(sns.batches) == 1


def test_the_worst_case_stays_inside_api_gateways_29_seconds():
    from predict import handler
    from predict.endpoint import client_config

    endpoint = client_config(10**6)  # the largest read timeout the handler may be given
    endpoint_worst = endpoint.retries["total_max_attempts"] * (endpoint.connect_timeout + endpoint.read_timeout)
    sns_call = 1 + 3  # the SNS client's connect + read timeout, one attempt per call
    assert endpoint_worst <= handler.PUBLISH_DEADLINE_SECONDS
    assert handler.PUBLISH_DEADLINE_SECONDS + sns_call < 29


@pytest.fixture
def operator_queues(consumers):
    """One queue per operator on the operator topic, each subscribed with the filter policy Terraform sets."""
    sns, sqs = consumers["sns"], consumers["sqs"]
    queues = {}
    for operator in ("northbet", "lucky-lane"):
        url = sqs.create_queue(QueueName=f"test-operator-{operator}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(
            TopicArn=consumers["topics"]["operator"],
            Protocol="sqs",
            Endpoint=arn,
            Attributes={
                "RawMessageDelivery": "true",
                "FilterPolicy": json.dumps({"operator_id": [operator]}),
                "FilterPolicyScope": "MessageAttributes",
            },
        )
        queues[operator] = url
    return queues


def test_each_operator_queue_holds_only_its_own_players_events(make_service, consumers, operator_queues):
    svc = _service(make_service, consumers, lambda rs: [float(len(rs))] * len(rs))
    for operator, users in (("northbet", ["n1", "n2"]), ("lucky-lane", ["l1"])):
        records = [good_spend(user_id=u) for u in users]
        status, body = answer(svc.handle(event(model="spend", body={"records": records}, operator=operator)))
        assert status == 200 and body["operator_id"] == operator
    held = {
        operator: sorted((json.loads(m["Body"]) for m in _drain(consumers["sqs"], url)), key=lambda e: e["user_id"])
        for operator, url in operator_queues.items()
    }
    assert [e["user_id"] for e in held["northbet"]] == ["n1", "n2"]
    assert [e["user_id"] for e in held["lucky-lane"]] == ["l1"]
    assert {e["operator_id"] for e in held["northbet"]} == {"northbet"}
    assert {e["operator_id"] for e in held["lucky-lane"]} == {"lucky-lane"}


def test_the_body_never_names_the_operator(make_service, consumers, operator_queues):
    """A key of northbet asking for lucky-lane's feed in the body is refused; nothing reaches lucky-lane."""
    svc = _service(make_service, consumers, lambda rs: [1.0] * len(rs))
    for body in (
        {"records": [good_spend(user_id="x")], "operator_id": "lucky-lane"},
        {"records": [good_spend(user_id="x", operator_id="lucky-lane")]},
    ):
        status, answer_body = answer(svc.handle(event(model="spend", body=body, operator="northbet")))
        assert status == 400, answer_body
    assert _drain(consumers["sqs"], operator_queues["lucky-lane"]) == []
    assert _drain(consumers["sqs"], operator_queues["northbet"]) == []


def test_intervention_events_name_the_operator_of_the_key(make_service, consumers):
    svc = _service(make_service, consumers, lambda rs: [0.9] * len(rs))
    assert svc.handle(event(body={"records": [good_risk(user_id="r1")]}, operator="lucky-lane"))["statusCode"] == 200
    (message,) = _drain(consumers["sqs"], consumers["queues"]["intervention"])
    assert json.loads(message["Body"])["operator_id"] == "lucky-lane"
    assert message["MessageAttributes"]["operator_id"]["StringValue"] == "lucky-lane"
