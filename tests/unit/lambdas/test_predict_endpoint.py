"""The endpoint call with botocore's Stubber: the exact request, its timeouts, and each failure -> 502/503."""

from __future__ import annotations

import io
import json

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber
from predict.endpoint import client_config

from tests.helpers.lambdas import FakeSns, answer, event, good_risk, good_spend


@pytest.fixture
def runtime():
    client = boto3.client(
        "sagemaker-runtime",
        region_name="eu-west-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=client_config(10),
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _body(obj) -> dict:
    data = json.dumps(obj).encode()
    return {"Body": StreamingBody(io.BytesIO(data), len(data)), "ContentType": "application/json"}


def test_the_request_sent_to_the_endpoint(make_service, runtime):
    client, stubber = runtime
    expected_body = json.dumps(
        [{"age": 30, "country": "nl", "deposit": 10.5, "verified": True, "affiliate": False}], separators=(",", ":")
    ).encode()
    stubber.add_response(
        "invoke_endpoint",
        _body({"predictions": [0.7], "model_version": "job-123"}),
        {
            "EndpointName": "test-risk",
            "ContentType": "application/json",
            "Accept": "application/json",
            "Body": expected_body,
        },
    )
    status, body = answer(make_service(client).handle(event(body={"records": [good_risk()]})))
    assert status == 200 and body["model_version"] == "job-123"
    assert body["predictions"][0]["risk_group"] == "high"


def test_timeouts_stay_below_api_gateways_29_seconds():
    config = client_config(60)  # asked for too much: capped
    attempts = config.retries["total_max_attempts"]
    assert attempts * (config.connect_timeout + config.read_timeout) < 29


@pytest.mark.parametrize(
    "answer_body, version",
    [
        ([0.2, 0.4], "unknown"),
        ([{"score": 0.2}, {"probability": 0.4}], "unknown"),
        ([[0.8, 0.2], [0.6, 0.4]], "unknown"),  # a binary classifier's [p(0), p(1)]
        ({"predictions": [0.2, 0.4], "model_version": "m-1"}, "m-1"),
    ],
)
def test_answer_shapes_the_image_may_give(make_service, runtime, answer_body, version):
    client, stubber = runtime
    stubber.add_response(
        "invoke_endpoint",
        _body(answer_body),
        {"EndpointName": "test-risk", "ContentType": ANY, "Accept": ANY, "Body": ANY},
    )
    status, body = answer(make_service(client).handle(event(body={"records": [good_risk(), good_risk()]})))
    assert status == 200 and [p["prediction"] for p in body["predictions"]] == [0.2, 0.4]
    assert body["model_version"] == version


@pytest.mark.parametrize(
    "code, http, status, reason",
    [
        ("ThrottlingException", 400, 503, "endpoint_throttled"),
        ("ServiceUnavailable", 503, 503, "endpoint_unavailable"),
        ("ModelNotReadyException", 429, 503, "endpoint_unavailable"),
        ("ModelError", 424, 502, "model_error"),
        ("InternalFailure", 500, 503, "endpoint_unavailable"),
        ("AccessDeniedException", 403, 502, "endpoint_forbidden"),
    ],
)
def test_endpoint_errors(make_service, runtime, code, http, status, reason):
    client, stubber = runtime
    stubber.add_client_error("invoke_endpoint", service_error_code=code, service_message="boom", http_status_code=http)
    sns = FakeSns()
    resp = make_service(client, sns).handle(event(body={"records": [good_risk()]}, request_id="r-9"))
    got, body = answer(resp)
    assert (got, body["error"]) == (status, reason)
    assert int(resp["headers"]["Retry-After"]) >= 1 and body["request_id"] == "r-9"
    assert sns.batches == []  # nothing published


def test_absent_endpoint_is_503(make_service, runtime, logs):
    client, stubber = runtime
    stubber.add_client_error(
        "invoke_endpoint",
        service_error_code="ValidationException",
        service_message="Endpoint test-risk of account 123456789012 not found.",
        http_status_code=400,
    )
    resp = make_service(client).handle(event(body={"records": [good_risk()], "request_id": "mine-1"}))
    status, body = answer(resp)
    assert status == 503 and body["error"] == "endpoint_absent" and body["request_id"] == "mine-1"
    assert resp["headers"]["Retry-After"] == "60"
    assert any('"endpoint_absent"' in line and "mine-1" in line for line in logs)  # logged with the request id


@pytest.mark.parametrize(
    "exc",
    [
        ReadTimeoutError(endpoint_url="https://runtime.sagemaker"),
        EndpointConnectionError(endpoint_url="https://runtime.sagemaker"),
        RuntimeError("anything else"),
    ],
)
def test_transport_failures(make_service, exc):
    class Failing:
        def invoke_endpoint(self, **_):
            raise exc

    sns = FakeSns()
    status, body = answer(make_service(Failing(), sns).handle(event(body={"records": [good_risk()]})))
    assert status in (502, 503) and "retry_after" in body and sns.batches == []


@pytest.mark.parametrize(
    "answer_body",
    [
        [0.5],  # one prediction for two records
        {"nothing": []},
        [0.5, "high"],
        [0.5, 1.5],  # a risk score outside [0, 1]
        [0.5, None],
    ],
)
def test_unusable_answers_are_502_and_publish_nothing(make_service, runtime, answer_body):
    client, stubber = runtime
    stubber.add_response("invoke_endpoint", _body(answer_body))
    sns = FakeSns()
    status, body = answer(make_service(client, sns).handle(event(body={"records": [good_risk(), good_risk()]})))
    assert status == 502 and body["error"] == "bad_model_answer" and sns.batches == []


def test_non_json_answer_is_502(make_service, runtime):
    client, stubber = runtime
    stubber.add_response("invoke_endpoint", {"Body": StreamingBody(io.BytesIO(b"<html>"), 6)})
    status, body = answer(make_service(client).handle(event(body={"records": [good_risk()]})))
    assert status == 502 and body["error"] == "bad_model_answer"


def test_regression_values_are_not_bounded(make_service, runtime):
    client, stubber = runtime
    stubber.add_response("invoke_endpoint", _body([1234.5]))
    sns = FakeSns()
    status, body = answer(make_service(client, sns).handle(event(model="spend", body={"records": [good_spend()]})))
    assert status == 200 and body["predictions"] == [{"user_id": "p1", "prediction": 1234.5}]
    ((topic, message),) = sns.messages()
    assert topic.endswith(":test-operator") and message["prediction"] == 1234.5 and message["target"] == "future_stake"


def test_a_refused_endpoint_call_logs_aws_reason_but_does_not_tell_the_client(make_service, runtime, logs):
    client, stubber = runtime
    reason = (
        "User: arn:aws:sts::123456789012:assumed-role/vwt-dev-predict-lambda/vwt-dev-predict is not authorized to "
        "perform: sagemaker:InvokeEndpoint on resource: arn:aws:sagemaker:eu-west-1:123456789012:endpoint/risk"
    )
    stubber.add_client_error("invoke_endpoint", service_error_code="AccessDeniedException", service_message=reason)
    resp = make_service(client).handle(event(body={"records": [good_risk()]}, request_id="r-10"))
    status, body = answer(resp)
    assert (status, body["error"]) == (502, "endpoint_forbidden")
    assert "arn:aws" not in json.dumps(body)  # the client learns that it failed, not the account's layout
    logged = [json.loads(line) for line in logs if '"endpoint_forbidden"' in line]
    assert logged and logged[0]["detail"] == reason
