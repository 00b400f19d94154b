"""The local invoke URL of a REST API answers as API Gateway does: keys, throttling, validation, proxy events."""

from __future__ import annotations

import json

import pytest
import requests

from tests.helpers.emulator import zip_of
from vwt_deploy.emulator.runtime.apigateway import local_invoke_url

HANDLER = """
import json, time


def handler(event, context):
    mode = (event.get("queryStringParameters") or {}).get("mode")
    if mode == "raise":
        raise RuntimeError("boom")
    if mode == "malformed":
        return {"status": 200, "body": "x"}
    if mode == "sleep":
        time.sleep(3)
    return {"statusCode": 201, "headers": {"X-Seen": "yes"}, "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
            "body": json.dumps(event)}
"""
SCHEMA = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "type": "object",
    "required": ["records"],
    "properties": {"records": {"type": "array", "minItems": 1}},
}


@pytest.fixture(scope="module")
def api(emulator_client, role):
    """An API like the project's: POST /v1/models/{model}/predictions (key, validator, Lambda proxy), a CORS
    OPTIONS mock, and ANY /files/{proxy+} without a key; three keys in three usage plans."""
    lam, gw = emulator_client("lambda"), emulator_client("apigateway")
    fn = lam.create_function(
        FunctionName="api-echo",
        Runtime="python3.12",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": zip_of({"app.py": HANDLER})},
        Timeout=10,
    )["FunctionArn"]
    uri = f"arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/{fn}/invocations"
    api_id = gw.create_rest_api(name="local-api")["id"]
    root = gw.get_resources(restApiId=api_id)["items"][0]["id"]
    parent = root
    for part in ("v1", "models", "{model}", "predictions"):
        parent = gw.create_resource(restApiId=api_id, parentId=parent, pathPart=part)["id"]
    validator = gw.create_request_validator(
        restApiId=api_id, name="body", validateRequestBody=True, validateRequestParameters=True
    )["id"]
    gw.create_model(restApiId=api_id, name="Request", contentType="application/json", schema=json.dumps(SCHEMA))
    gw.put_method(
        restApiId=api_id,
        resourceId=parent,
        httpMethod="POST",
        authorizationType="NONE",
        apiKeyRequired=True,
        requestValidatorId=validator,
        requestModels={"application/json": "Request"},
    )
    gw.put_integration(
        restApiId=api_id,
        resourceId=parent,
        httpMethod="POST",
        type="AWS_PROXY",
        integrationHttpMethod="POST",
        uri=uri,
        timeoutInMillis=1500,
    )
    gw.put_method(restApiId=api_id, resourceId=parent, httpMethod="OPTIONS", authorizationType="NONE")
    gw.put_integration(
        restApiId=api_id,
        resourceId=parent,
        httpMethod="OPTIONS",
        type="MOCK",
        requestTemplates={"application/json": '{"statusCode": 200}'},
    )
    gw.put_method_response(
        restApiId=api_id,
        resourceId=parent,
        httpMethod="OPTIONS",
        statusCode="200",
        responseParameters={"method.response.header.Access-Control-Allow-Origin": True},
    )
    gw.put_integration_response(
        restApiId=api_id,
        resourceId=parent,
        httpMethod="OPTIONS",
        statusCode="200",
        responseParameters={"method.response.header.Access-Control-Allow-Origin": "'*'"},
        responseTemplates={"application/json": ""},
    )
    files = gw.create_resource(restApiId=api_id, parentId=root, pathPart="files")["id"]
    proxy = gw.create_resource(restApiId=api_id, parentId=files, pathPart="{proxy+}")["id"]
    gw.put_method(
        restApiId=api_id,
        resourceId=proxy,
        httpMethod="ANY",
        authorizationType="NONE",
        requestValidatorId=validator,
        requestParameters={"method.request.header.X-Tenant": True},
    )
    gw.put_integration(
        restApiId=api_id, resourceId=proxy, httpMethod="ANY", type="AWS_PROXY", integrationHttpMethod="POST", uri=uri
    )
    gw.create_deployment(restApiId=api_id, stageName="local")
    keys = {}
    for name, throttle, quota in (
        ("main", {"rateLimit": 100.0, "burstLimit": 100}, None),
        ("bursty", {"rateLimit": 0.001, "burstLimit": 2}, None),
        ("quota", {}, {"limit": 1, "period": "DAY"}),
    ):
        key = gw.create_api_key(name=name, enabled=True)
        plan = gw.create_usage_plan(
            name=name,
            apiStages=[{"apiId": api_id, "stage": "local"}],
            throttle=throttle,
            **({"quota": quota} if quota else {}),
        )
        gw.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
        keys[name] = key
    return {
        "url": local_invoke_url(emulator_client("s3").meta.endpoint_url, api_id, "local"),
        "id": api_id,
        "keys": keys,
    }


def _post(api, key="main", path="/v1/models/risk/predictions", body=None, **kwargs):
    headers = {"x-api-key": api["keys"][key]["value"]} if key else {}
    return requests.post(
        api["url"] + path,
        json={"records": [{"user_id": "p1"}]} if body is None else body,
        headers=headers,
        timeout=30,
        **kwargs,
    )


def test_unknown_resource_or_method_is_missing_authentication_token(api):
    for answer in (_post(api, path="/v1/nothing"), requests.delete(api["url"] + "/v1/models/risk/predictions")):
        assert answer.status_code == 403
        assert answer.json() == {"message": "Missing Authentication Token"}


def test_unknown_stage_is_forbidden(api):
    answer = requests.post(api["url"].rsplit("/", 1)[0] + "/nostage/v1/models/risk/predictions", json={})
    assert answer.status_code == 403 and answer.json() == {"message": "Forbidden"}


def test_missing_or_wrong_api_key_is_forbidden(api):
    assert _post(api, key=None).status_code == 403
    answer = requests.post(
        api["url"] + "/v1/models/risk/predictions", json={"records": [{}]}, headers={"x-api-key": "not-a-key"}
    )
    assert answer.status_code == 403 and answer.json() == {"message": "Forbidden"}


def test_right_key_reaches_the_lambda_with_a_proxy_event(api):
    answer = _post(api, params={"a": ["1", "2"], "b": "x"})
    assert answer.status_code == 201  # the function's statusCode
    assert answer.headers["X-Seen"] == "yes" and answer.headers["Content-Type"] == "application/json"
    event = answer.json()
    assert event["resource"] == "/v1/models/{model}/predictions"
    assert event["path"] == "/v1/models/risk/predictions"
    assert event["httpMethod"] == "POST"
    assert event["pathParameters"] == {"model": "risk"}
    assert event["queryStringParameters"] == {"a": "2", "b": "x"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": ["x"]}
    assert event["headers"]["X-Api-Key"] == api["keys"]["main"]["value"]
    assert event["multiValueHeaders"]["Content-Type"] == ["application/json"]
    assert json.loads(event["body"]) == {"records": [{"user_id": "p1"}]} and event["isBase64Encoded"] is False
    assert event["stageVariables"] is None
    context = event["requestContext"]
    assert context["apiId"] == api["id"] and context["stage"] == "local" and context["accountId"] == "123456789012"
    assert (
        context["resourcePath"] == "/v1/models/{model}/predictions"
        and context["path"] == "/local/v1/models/risk/predictions"
    )
    assert context["identity"]["apiKey"] == api["keys"]["main"]["value"]
    assert context["identity"]["apiKeyId"] == api["keys"]["main"]["id"]
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["requestId"] == answer.headers["x-amzn-RequestId"] and context["requestTimeEpoch"] > 0


def test_invalid_body_is_refused_before_the_lambda(api):
    for body in ({"records": []}, {"no": "records"}):
        answer = _post(api, body=body)
        assert answer.status_code == 400 and answer.json() == {"message": "Invalid request body"}
    answer = requests.post(
        api["url"] + "/v1/models/risk/predictions",
        data=b"{not json",
        headers={"x-api-key": api["keys"]["main"]["value"], "Content-Type": "application/json"},
    )
    assert answer.status_code == 400


def test_burst_beyond_the_usage_plan_is_throttled(api):
    answers = [_post(api, key="bursty").status_code for _ in range(4)]
    assert answers[:2] == [201, 201] and answers[2:] == [429, 429]
    assert _post(api, key="bursty").json() == {"message": "Too Many Requests"}
    assert _post(api, key="main").status_code == 201  # other keys keep their own bucket


def test_quota_is_enforced(api):
    assert _post(api, key="quota").status_code == 201
    answer = _post(api, key="quota")
    assert answer.status_code == 429 and answer.json() == {"message": "Limit Exceeded"}


def test_function_error_or_malformed_answer_is_502(api):
    for mode in ("raise", "malformed"):
        answer = _post(api, params={"mode": mode})
        assert answer.status_code == 502 and answer.json() == {"message": "Internal server error"}


def test_integration_timeout_is_504(api):
    answer = _post(api, params={"mode": "sleep"})
    assert answer.status_code == 504 and answer.json() == {"message": "Endpoint request timed out"}


def test_cors_preflight_answers_the_mock(api):
    answer = requests.options(api["url"] + "/v1/models/risk/predictions", headers={"Origin": "https://x.example"})
    assert answer.status_code == 200 and answer.headers["Access-Control-Allow-Origin"] == "*"


def test_greedy_path_and_any_method(api):
    answer = requests.put(api["url"] + "/files/a/b/c.txt", data=b"\xff\xfe")
    assert answer.status_code == 400
    assert answer.json() == {"message": "Missing required request parameters: [X-Tenant]"}
    answer = requests.put(api["url"] + "/files/a/b/c.txt", data=b"\xff\xfe", headers={"X-Tenant": "t1"})
    event = answer.json()
    assert event["resource"] == "/files/{proxy+}" and event["pathParameters"] == {"proxy": "a/b/c.txt"}
    assert event["httpMethod"] == "PUT" and event["isBase64Encoded"] is True


def test_customised_gateway_responses_apply(api, emulator_client):
    gw = emulator_client("apigateway")
    gw.put_gateway_response(
        restApiId=api["id"],
        responseType="DEFAULT_4XX",
        responseParameters={"gatewayresponse.header.Access-Control-Allow-Origin": "'*'"},
        responseTemplates={"application/json": '{"message": $context.error.messageString, "id": "$context.requestId"}'},
    )
    try:
        answer = _post(api, key=None)
        assert answer.status_code == 403 and answer.headers["Access-Control-Allow-Origin"] == "*"
        assert answer.json() == {"message": "Forbidden", "id": answer.headers["x-amzn-RequestId"]}
    finally:
        gw.delete_gateway_response(restApiId=api["id"], responseType="DEFAULT_4XX")


def test_validation_errors_are_worded_as_api_gateway_words_them(api, emulator_client):
    """$context.error.validationErrorString holds bare double quotes, as API Gateway's validator writes it: a
    template that puts it in a JSON string gives clients invalid JSON here as on AWS."""
    gw = emulator_client("apigateway")
    gw.put_gateway_response(
        restApiId=api["id"],
        responseType="BAD_REQUEST_BODY",
        responseTemplates={"application/json": '{"errors": "$context.error.validationErrorString"}'},
    )
    try:
        answer = _post(api, body={"no": "records"})
        assert answer.status_code == 400
        assert answer.text == '{"errors": "[object has missing required properties (["records"])]"}'
        with pytest.raises(ValueError):
            json.loads(answer.text)
        answer = _post(api, body={"records": []})
        assert "array is too short: must have at least 1 elements but instance has 0 elements" in answer.text
    finally:
        gw.delete_gateway_response(restApiId=api["id"], responseType="BAD_REQUEST_BODY")


def test_status_shows_the_local_address_of_the_deployed_api(api, emulator, repo):
    from vwt_deploy.config import load
    from vwt_deploy.deploy.targets.local import LocalTarget

    target = LocalTarget(load("local", repo), emulator.state_dir, start=False)
    described = target.describe({"api_url": f"https://{api['id']}.execute-api.eu-west-1.amazonaws.com/local"})
    assert described["local_api_url"] == api["url"]
    assert "local_api_url" not in target.describe({})  # nothing deployed: no address
