"""A method with a Lambda authorizer answers through the local invoke URL as API Gateway does: 401 before the
function for a missing or malformed token, the function's policy deciding (403 with API Gateway's wording), its
context reaching the integration, its answer cached for the TTL, and a failing authorizer 500."""

from __future__ import annotations

import time

import pytest
import requests

from tests.helpers.emulator import zip_of
from vwt_deploy.emulator.runtime.apigateway import local_invoke_url

AUTHORIZER = """
def handler(event, context):
    token = event["authorizationToken"].removeprefix("Bearer ")
    print("authorizing", token)  # the function's log counts its calls
    if token == "expired":
        raise Exception("Unauthorized")
    if token == "crash":
        raise RuntimeError("the identity provider cannot be reached")
    if token == "garbled":
        return {"principalId": "x"}
    arn = event["methodArn"]
    api = arn.split("/", 1)[0]
    stage = arn.split("/")[1]
    # the player's own model only (the cached policy decides every later request of the same token)
    effect, resource = ("Deny", f"{api}/{stage}/POST/v1/models/*") if token == "banned" else (
        "Allow", f"{api}/{stage}/POST/v1/models/risk/*")
    return {"principalId": "player-" + token, "context": {"operator_id": "northbet", "player_id": token,
            "verified": True, "level": 2},
            "policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": effect, "Action": "execute-api:Invoke", "Resource": resource}]}}
"""
ECHO = """
import json


def handler(event, context):
    return {"statusCode": 200, "body": json.dumps(event["requestContext"].get("authorizer"))}
"""


@pytest.fixture(scope="module")
def api(emulator_client, role):
    """POST /v1/models/{model}/predictions behind a TOKEN authorizer (Authorization, `Bearer <token>`), cached for
    `ttl` seconds; a second stage-less API id per TTL: one cached (300 s) and one not (0)."""
    lam, gw = emulator_client("lambda"), emulator_client("apigateway")
    made = {}
    for ttl in (300, 0):
        functions = {}
        for name, code in (("authorizer", AUTHORIZER), ("echo", ECHO)):
            functions[name] = lam.create_function(
                FunctionName=f"authz-{name}-{ttl}", Runtime="python3.12", Role=role, Handler="app.handler",
                Code={"ZipFile": zip_of({"app.py": code})}, Timeout=5,
            )["FunctionArn"]  # fmt: skip
        api_id = gw.create_rest_api(name=f"authorized-{ttl}")["id"]
        parent = gw.get_resources(restApiId=api_id)["items"][0]["id"]
        for part in ("v1", "models", "{model}", "predictions"):
            parent = gw.create_resource(restApiId=api_id, parentId=parent, pathPart=part)["id"]
        invocation = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/{}/invocations"
        authorizer = gw.create_authorizer(
            restApiId=api_id, name="devices", type="TOKEN", authorizerUri=invocation.format(functions["authorizer"]),
            identitySource="method.request.header.Authorization",
            identityValidationExpression=r"^Bearer [-0-9a-zA-Z._]+$", authorizerResultTtlInSeconds=ttl,
        )["id"]  # fmt: skip
        gw.put_method(restApiId=api_id, resourceId=parent, httpMethod="POST", authorizationType="CUSTOM",
                      authorizerId=authorizer)  # fmt: skip
        gw.put_integration(restApiId=api_id, resourceId=parent, httpMethod="POST", type="AWS_PROXY",
                           integrationHttpMethod="POST", uri=invocation.format(functions["echo"]))  # fmt: skip
        gw.create_deployment(restApiId=api_id, stageName="live")
        made[ttl] = (api_id, functions["authorizer"])
    return made


def _call(emulator, api, ttl=300, token=None, model="risk"):
    api_id, _ = api[ttl]
    headers = {"Authorization": token} if token is not None else {}
    url = local_invoke_url(emulator.url, api_id, "live") + f"/v1/models/{model}/predictions"
    return requests.post(url, json={"records": []}, headers=headers, timeout=15)


def _calls(emulator_client, api, ttl) -> list[str]:
    """The tokens the authorizer function was called with, from its log group."""
    logs = emulator_client("logs")
    group = "/aws/lambda/" + api[ttl][1].rsplit(":", 1)[-1]
    try:
        events = logs.filter_log_events(logGroupName=group)["events"]
    except logs.exceptions.ResourceNotFoundException:
        return []
    return [e["message"].split()[1] for e in events if e["message"].startswith("authorizing ")]


@pytest.mark.parametrize("token", [None, "", "Basic abc", "Bearer", "Bearer a b"])
def test_a_missing_or_malformed_token_is_401_without_calling_the_authorizer(emulator, emulator_client, api, token):
    before = len(_calls(emulator_client, api, 0))
    answer = _call(emulator, api, ttl=0, token=token)
    assert (answer.status_code, answer.json()) == (401, {"message": "Unauthorized"})
    assert answer.headers["x-amzn-ErrorType"] == "UnauthorizedException"
    assert len(_calls(emulator_client, api, 0)) == before


def test_an_allowed_token_reaches_the_integration_with_the_authorizers_context(emulator, api):
    answer = _call(emulator, api, ttl=0, token="Bearer p-17")
    assert answer.status_code == 200
    assert answer.json() == {"principalId": "player-p-17", "operator_id": "northbet", "player_id": "p-17",
                             "verified": "true", "level": "2"}  # fmt: skip


def test_the_policy_decides_with_api_gateways_wording(emulator, api):
    other = _call(emulator, api, ttl=0, token="Bearer p-17", model="marketing")  # no Allow covers it
    assert (other.status_code, other.json()) == (403, {"Message": "User is not authorized to access this resource"})
    banned = _call(emulator, api, ttl=0, token="Bearer banned")
    assert (banned.status_code, banned.json()) == (
        403, {"Message": "User is not authorized to access this resource with an explicit deny"})  # fmt: skip


def test_an_authorizer_that_says_unauthorized_is_401_and_one_that_fails_is_500(emulator, api):
    expired = _call(emulator, api, ttl=0, token="Bearer expired")
    assert (expired.status_code, expired.json()) == (401, {"message": "Unauthorized"})
    for token in ("Bearer crash", "Bearer garbled"):
        failed = _call(emulator, api, ttl=0, token=token)
        assert (failed.status_code, failed.json()) == (500, {"message": None}), token
        assert failed.headers["x-amzn-ErrorType"] == "AuthorizerConfigurationException"


def test_the_answer_is_cached_per_token_for_the_ttl_and_decides_other_methods_too(emulator, emulator_client, api):
    token = f"Bearer cached-{time.time_ns()}"
    for _ in range(3):
        assert _call(emulator, api, ttl=300, token=token).status_code == 200
    assert _call(emulator, api, ttl=300, token=token, model="marketing").status_code == 403  # the cached policy
    assert _calls(emulator_client, api, 300).count(token.removeprefix("Bearer ")) == 1
    uncached = f"Bearer uncached-{time.time_ns()}"
    for _ in range(3):
        assert _call(emulator, api, ttl=0, token=uncached).status_code == 200
    assert _calls(emulator_client, api, 0).count(uncached.removeprefix("Bearer ")) == 3
