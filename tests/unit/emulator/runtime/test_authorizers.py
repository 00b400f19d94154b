"""A Lambda authorizer's answer as API Gateway reads it: the policy's decision on the method ARN, the answer's shape,
and the cache per identity for the TTL (with a fake clock and a fake function)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from vwt_deploy.emulator.runtime.authorizers import EXPLICIT_DENY, IMPLICIT_DENY, Authorizers, Refused

API = "arn:aws:execute-api:eu-west-1:123456789012:abc123"
METHOD = f"{API}/live/POST/v1/models/risk/predictions"


def _authorizer(ttl=300, expression=r"^Bearer [-0-9a-zA-Z._]+$"):
    function = "arn:aws:lambda:eu-west-1:123456789012:function:a"
    uri = f"arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/{function}/invocations"
    return SimpleNamespace(id="az1", type="TOKEN", authorizer_uri=uri, authorizer_result_ttl=ttl,
                           identity_source="method.request.header.Authorization",
                           identity_validation_expression=expression)  # fmt: skip


def _request(token):
    return SimpleNamespace(headers={"Authorization": token} if token else {}, args={})


def _answer(effect="Allow", resource=f"{API}/live/POST/v1/models/risk/*", **extra):
    statement = {"Effect": effect, "Action": "execute-api:Invoke", "Resource": resource}
    return {"principalId": "p", "policyDocument": {"Version": "2012-10-17", "Statement": [statement]}, **extra}


class _Function:
    def __init__(self, answer, error=None):
        self.answer, self.error, self.calls = answer, error, 0

    def __call__(self, function, event, authorizer_id):
        self.calls += 1
        return json.dumps(self.answer).encode(), self.error


class _Clock:
    now = 0.0

    def __call__(self):
        return self.now


@pytest.mark.parametrize(
    ("resource", "allowed"),
    [
        (METHOD, True),
        (f"{API}/live/POST/v1/models/*", True),
        (f"{API}/*/*/v1/models/risk/predictions", True),
        (f"{API}/live/GET/v1/models/risk/predictions", False),
        (f"{API}/live/POST/v1/models/marketing/*", False),
        ("arn:aws:execute-api:eu-west-1:123456789012:other/*", False),
    ],
)
def test_an_allow_must_match_the_method_arn(resource, allowed):
    authorizers = Authorizers(_Function(_answer(resource=resource)))
    if allowed:
        assert authorizers.authorize(_authorizer(), _request("Bearer t"), METHOD, {})["principalId"] == "p"
    else:
        with pytest.raises(Refused) as refused:
            authorizers.authorize(_authorizer(), _request("Bearer t"), METHOD, {})
        assert (refused.value.response_type, refused.value.message) == ("ACCESS_DENIED", IMPLICIT_DENY)


def test_a_matching_deny_wins():
    answer = _answer()
    answer["policyDocument"]["Statement"].append({"Effect": "Deny", "Action": "execute-api:*", "Resource": METHOD})
    with pytest.raises(Refused) as refused:
        Authorizers(_Function(answer)).authorize(_authorizer(), _request("Bearer t"), METHOD, {})
    assert refused.value.message == EXPLICIT_DENY


@pytest.mark.parametrize(
    "answer",
    [{"policyDocument": {"Statement": []}}, {"principalId": "p"}, _answer(context={"nested": {"no": 1}}), "text"],
)
def test_an_unusable_answer_is_a_configuration_error(answer):
    with pytest.raises(Refused) as refused:
        Authorizers(_Function(answer)).authorize(_authorizer(), _request("Bearer t"), METHOD, {})
    assert refused.value.response_type == "AUTHORIZER_CONFIGURATION_ERROR"


def test_the_answer_is_cached_per_token_until_the_ttl_ends():
    function, clock = _Function(_answer(context={"player_id": "p-1"})), _Clock()
    authorizers = Authorizers(function, clock)
    for _ in range(3):
        assert authorizers.authorize(_authorizer(ttl=60), _request("Bearer a"), METHOD, {})["player_id"] == "p-1"
    authorizers.authorize(_authorizer(ttl=60), _request("Bearer b"), METHOD, {})
    assert function.calls == 2
    clock.now = 61
    authorizers.authorize(_authorizer(ttl=60), _request("Bearer a"), METHOD, {})
    assert function.calls == 3
