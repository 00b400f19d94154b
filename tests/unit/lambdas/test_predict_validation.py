"""Every validation case of the issue: 404 unknown model, 400 with each problem by record index and field."""

from __future__ import annotations

import base64
import json

import pytest

from tests.helpers.lambdas import FakeEndpoint, FakeSns, answer, event, good_risk, good_spend

from predict.catalogue import CatalogueError  # isort: skip (the helpers put lambdas/ on the path)


def problems_of(body):
    return {(p["record"], p["field"]) for p in body["problems"]}


def test_a_good_request_predicts_and_answers_per_record(make_service):
    sm, sns = FakeEndpoint(scores=[0.1, 0.9]), FakeSns()
    status, body = answer(
        make_service(sm, sns).handle(
            event(body={"records": [good_risk(user_id="a"), good_risk(user_id="b")], "request_id": "req-42"})
        )
    )
    assert status == 200
    assert body["request_id"] == "req-42" and body["model"] == "risk" and body["model_version"] == "v7"
    assert body["predictions"] == [
        {"user_id": "a", "prediction": 0.1, "risk_group": "low", "intervention_level": "none"},
        {"user_id": "b", "prediction": 0.9, "risk_group": "severe", "intervention_level": "cooling_off"},
    ]


def test_unknown_model_is_404_naming_the_models(make_service):
    sm = FakeEndpoint()
    status, body = answer(make_service(sm).handle(event(model="nope", body={"records": [good_risk()]})))
    assert status == 404 and body["error"] == "unknown_model"
    assert "risk" in body["message"] and "spend" in body["message"]
    assert sm.calls == []


@pytest.mark.parametrize(
    "raw, fragment",
    [
        ("", "no body"),
        ("{not json", "not valid JSON"),
        ("[1, 2", "not valid JSON"),
        ("[" * 100000 + "]" * 100000, "not valid JSON"),
        ('"just a string"', "must be a JSON object"),
        ("[]", "must be a JSON object"),
        ("null", "must be a JSON object"),
    ],
)
def test_bodies_that_are_not_a_request_object(make_service, raw, fragment):
    status, body = answer(make_service().handle(event(raw=raw)))
    assert status == 400 and body["error"] == "invalid_request"
    assert fragment in body["problems"][0]["problem"]


def test_missing_body_is_400(make_service):
    status, body = answer(make_service().handle(event(body=None)))
    assert status == 400 and "no body" in body["problems"][0]["problem"]


def test_body_too_large_is_400(make_service):
    big = json.dumps({"records": [good_risk(user_id="x" * 100)] * 3})
    status, body = answer(make_service(environ={"MAX_BODY_BYTES": str(len(big) - 1)}).handle(event(raw=big)))
    assert status == 400 and "larger than" in body["problems"][0]["problem"]


def test_base64_body_is_decoded(make_service):
    ev = event(raw=base64.b64encode(json.dumps({"records": [good_risk()]}).encode()).decode())
    ev["isBase64Encoded"] = True
    assert make_service().handle(ev)["statusCode"] == 200
    ev["body"] = "***"
    status, body = answer(make_service().handle(ev))
    assert status == 400 and "base64" in body["problems"][0]["problem"]


@pytest.mark.parametrize(
    "payload, field, fragment",
    [
        ({}, "records", "missing"),
        ({"records": {}}, "records", "must be a list"),
        ({"records": []}, "records", "is empty"),
        ({"records": [good_risk()] * 6}, "records", "at most 5"),
        ({"records": [good_risk()], "extra": 1}, "extra", "unknown top-level"),
        ({"records": [good_risk()], "request_id": ""}, "request_id", "1 to 128"),
        ({"records": [good_risk()], "request_id": 12}, "request_id", "1 to 128"),
        ({"records": [good_risk()], "request_id": "has space"}, "request_id", "1 to 128"),
    ],
)
def test_request_level_problems(make_service, payload, field, fragment):
    status, body = answer(make_service().handle(event(body=payload)))
    assert status == 400
    match = [p for p in body["problems"] if p["field"] == field]
    assert match and fragment in match[0]["problem"] and match[0]["record"] is None


@pytest.mark.parametrize(
    "record, field, fragment",
    [
        ({k: v for k, v in good_risk().items() if k != "age"}, "age", "missing"),
        ({k: v for k, v in good_risk().items() if k != "user_id"}, "user_id", "missing"),
        (good_risk(colour="red"), "colour", "unknown field"),
        (good_risk(age="30"), "age", "whole number"),
        (good_risk(age=30.5), "age", "whole number"),
        (good_risk(age=True), "age", "whole number"),
        (good_risk(age=None), "age", "null"),
        (good_risk(age=[30]), "age", "a list"),
        (good_risk(age=17), "age", "at least 18"),
        (good_risk(age=121), "age", "at most 120"),
        (good_risk(deposit=-0.01), "deposit", "at least 0"),
        (good_risk(deposit=1000.5), "deposit", "at most 1000"),
        (good_risk(deposit="10"), "deposit", "a number"),
        (good_risk(country="fr"), "country", "one of nl, de, gb"),
        (good_risk(country="NL"), "country", "one of nl, de, gb"),
        (good_risk(country=1), "country", "a string"),
        (good_risk(verified=1), "verified", "true or false"),
        (good_risk(verified="true"), "verified", "true or false"),
        (good_risk(user_id=""), "user_id", "1 to 128"),
        (good_risk(user_id=7), "user_id", "1 to 128"),
        ("not a record", None, "must be an object"),
        (None, None, "must be an object"),
    ],
)
def test_record_problems_name_the_record_and_field(make_service, record, field, fragment):
    sm = FakeEndpoint()
    status, body = answer(make_service(sm).handle(event(body={"records": [good_risk(), record]})))
    assert status == 400, body
    match = [p for p in body["problems"] if p["record"] == 1 and p["field"] == field]
    assert match and fragment in match[0]["problem"], body["problems"]
    assert not [p for p in body["problems"] if p["record"] == 0]
    assert sm.calls == []  # nothing reaches the endpoint


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", "1e400", "-1e999"])
def test_non_finite_numbers_are_refused_by_field(make_service, constant):
    raw = '{"records": [{"user_id": "p", "age": 30, "country": "nl", "verified": true, "deposit": ' + constant + "}]}"
    status, body = answer(make_service().handle(event(raw=raw)))
    assert status == 400
    assert body["problems"] == [{"record": 0, "field": "deposit", "problem": body["problems"][0]["problem"]}]
    assert "finite" in body["problems"][0]["problem"]


def test_every_problem_is_listed(make_service):
    records = [good_risk(), good_risk(age=5, country="xx"), good_risk(), {"user_id": "q"}, good_risk(verified="no")]
    status, body = answer(make_service().handle(event(body={"records": records})))
    assert status == 400
    assert problems_of(body) == {
        (1, "age"),
        (1, "country"),
        (3, "age"),
        (3, "country"),
        (3, "verified"),
        (4, "verified"),
    }
    assert body["problem_count"] == 6


def test_problem_list_is_capped_but_counted(make_service, catalogue_doc):
    catalogue_doc["max_records"] = 2000
    records = [{"user_id": "p"}] * 2000  # 3 missing fields each
    status, body = answer(make_service(doc=catalogue_doc).handle(event(body={"records": records})))
    assert status == 400 and body["problem_count"] == 6000 and len(body["problems"]) == 1000


def test_defaults_order_and_types_reach_the_endpoint(make_service):
    sm = FakeEndpoint()
    record = {"verified": False, "country": "gb", "age": 40.0, "user_id": "p"}  # any key order, 40.0 is whole
    assert make_service(sm).handle(event(body={"records": [record]}))["statusCode"] == 200
    call = sm.calls[0]
    assert call["EndpointName"] == "test-risk" and call["ContentType"] == "application/json"
    sent = call["records"][0]
    assert list(sent) == ["age", "country", "deposit", "verified", "affiliate"]  # training order, no user_id
    assert sent == {"age": 40, "country": "gb", "deposit": 0.0, "verified": False, "affiliate": False}
    assert type(sent["age"]) is int and type(sent["deposit"]) is float


def test_endpoint_names_come_from_the_environment(make_service):
    sm = FakeEndpoint()
    svc = make_service(sm, environ={"ENDPOINT_NAMES": json.dumps({"risk": "vwt-dev-risk"})})
    assert svc.handle(event(body={"records": [good_risk()]}))["statusCode"] == 200
    assert sm.calls[0]["EndpointName"] == "vwt-dev-risk"


def test_max_records_from_the_environment(make_service):
    svc = make_service(environ={"MAX_RECORDS": "1"})
    status, body = answer(svc.handle(event(body={"records": [good_risk(), good_risk()]})))
    assert status == 400 and "at most 1" in body["problems"][0]["problem"]


def test_methods_and_cors(make_service):
    svc = make_service()
    resp = svc.handle(event(method="GET", body={"records": [good_risk()]}))
    assert resp["statusCode"] == 405 and "POST" in resp["headers"]["Allow"]
    pre = svc.handle(event(method="OPTIONS", headers={"Origin": "https://app.example.com"}))
    assert pre["statusCode"] == 200 and pre["headers"]["Access-Control-Allow-Origin"] == "https://app.example.com"
    other = svc.handle(event(body={"records": [good_risk()]}, headers={"origin": "https://evil.example"}))
    assert "Access-Control-Allow-Origin" not in other["headers"]


def test_misconfigured_topic_is_a_json_500_and_calls_nothing(make_service):
    sm = FakeEndpoint()
    svc = make_service(sm, environ={"OPERATOR_TOPIC_ARN": ""})
    status, body = answer(svc.handle(event(model="spend", body={"records": [good_spend()]})))
    assert status == 500 and body["error"] == "misconfigured" and sm.calls == []


def test_metrics_are_embedded_metric_format(make_service, logs):
    make_service(FakeEndpoint(scores=[0.1, 0.7, 0.75])).handle(event(body={"records": [good_risk()] * 3}))
    doc = json.loads(logs[-1])
    meta = doc["_aws"]["CloudWatchMetrics"][0]
    assert meta["Namespace"] == "VWT/Prediction" and meta["Dimensions"] == [["Environment", "Model"]]
    names = {m["Name"] for m in meta["Metrics"]}
    assert {"Latency", "EndpointLatency", "Records", "RiskGroup_low", "RiskGroup_high"} <= names
    assert all(name in doc for name in names)  # each metric has its value at the top level
    assert (doc["Records"], doc["RiskGroup_low"], doc["RiskGroup_high"], doc["RiskGroup_severe"]) == (3, 1, 2, 0)
    assert doc["Model"] == "risk" and doc["status"] == 200


def test_unknown_model_does_not_become_a_metric_dimension(make_service, logs):
    make_service().handle(event(model="x" * 500, body={"records": [good_risk()]}))
    assert json.loads(logs[-1])["Model"] == "unknown"


def test_the_variables_terraform_sets(make_service):
    """terraform/modules/prediction_api sets VWT_-prefixed names; CORS origins come comma-separated."""
    sm = FakeEndpoint()
    svc = make_service(
        sm,
        environ={
            "VWT_ENVIRONMENT": "dev",
            "VWT_ENDPOINTS": json.dumps({"risk": "vwt-dev-risk"}),
            "VWT_MAX_RECORDS": "2",
            "VWT_CORS_ALLOW_ORIGINS": "https://a.example, https://b.example",
            "VWT_INTERVENTION_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:vwt-dev-intervention",
        },
    )
    assert svc.settings.environment == "dev" and svc.settings.cors == ("https://a.example", "https://b.example")
    assert svc.settings.topics["intervention"].endswith("vwt-dev-intervention")
    resp = svc.handle(event(body={"records": [good_risk()]}, headers={"Origin": "https://b.example"}))
    assert resp["statusCode"] == 200 and sm.calls[0]["EndpointName"] == "vwt-dev-risk"
    assert resp["headers"]["Access-Control-Allow-Origin"] == "https://b.example"
    status, body = answer(svc.handle(event(body={"records": [good_risk()] * 3})))
    assert status == 400 and "at most 2" in body["problems"][0]["problem"]


@pytest.mark.parametrize(
    "environ, fragment",
    [
        ({"VWT_ENDPOINTS": "not json"}, "VWT_ENDPOINTS must be a JSON object"),
        ({"ENDPOINT_NAMES": "[1]"}, "ENDPOINT_NAMES must be a JSON object"),
        ({"VWT_MAX_RECORDS": "many"}, "VWT_MAX_RECORDS must be a whole number"),
        ({"MAX_BODY_BYTES": "0"}, "MAX_BODY_BYTES must be positive"),
        ({"VWT_CORS_ALLOW_ORIGINS": "[oops"}, "VWT_CORS_ALLOW_ORIGINS must be a JSON list"),
        ({"VWT_ENDPOINT_TIMEOUT_SECONDS": "soon"}, "VWT_ENDPOINT_TIMEOUT_SECONDS must be a number"),
    ],
)
def test_bad_variables_are_named(make_service, environ, fragment):
    from predict.catalogue import CatalogueError

    with pytest.raises(CatalogueError, match=fragment):
        make_service(environ=environ)


@pytest.mark.parametrize("operator", [None, "key-id-of-nobody"])
def test_a_key_of_no_operator_is_refused_before_anything_is_predicted(make_service, operator):
    endpoint, sns = FakeEndpoint(), FakeSns()
    status, body = answer(make_service(endpoint, sns).handle(event(body={"records": [good_risk()]}, operator=operator)))
    assert status == 403 and body["error"] == "unknown_operator"
    assert "key" in body["message"]
    assert endpoint.calls == [] and sns.batches == []


@pytest.mark.parametrize("keys", [None, "", "not json", "[]", "{}", '{"key": ""}'])
def test_the_operator_keys_must_be_configured(make_service, keys):
    environ = {"OPERATOR_KEYS": keys} if keys is not None else {"OPERATOR_KEYS": ""}
    with pytest.raises(CatalogueError, match="OPERATOR_KEYS must be a JSON object of API key id -> operator id"):
        make_service(environ=environ)
