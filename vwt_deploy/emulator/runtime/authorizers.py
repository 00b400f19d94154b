"""API Gateway's Lambda authorizers (REST APIs), as the local API Gateway runs them before a method's integration.

What API Gateway does (API Gateway Developer Guide, "Use API Gateway Lambda authorizers", "Input to an API Gateway
Lambda authorizer", "Output from an API Gateway Lambda authorizer", "Gateway response types"):

* A TOKEN authorizer reads one identity source, a header (`method.request.header.Authorization`). A missing header,
  or one that does not match the authorizer's `identityValidationExpression`, is 401 `Unauthorized` without calling
  the function. A REQUEST authorizer reads every identity source (headers, query strings); one missing is 401.
* The function gets `{"type": "TOKEN", "authorizationToken", "methodArn"}` (or the REQUEST event with the request's
  headers, query, path parameters and context) and answers `{"principalId", "policyDocument", "context"}`. An error
  whose message is `Unauthorized` is 401; any other error, a timeout or an answer without a policy is 500
  (AUTHORIZER_CONFIGURATION_ERROR, `{"message": null}`, x-amzn-ErrorType AuthorizerConfigurationException).
* The policy decides `execute-api:Invoke` on the method's ARN
  (`arn:aws:execute-api:<region>:<account>:<api>/<stage>/<METHOD>/<path>`, `*` and `?` as wildcards): a matching
  Deny is 403 "User is not authorized to access this resource with an explicit deny", no matching Allow 403 "User
  is not authorized to access this resource" (ACCESS_DENIED; the body's key is `Message`).
* The answer is cached per identity (the token, or the identity sources' values) for
  `authorizerResultTtlInSeconds` (default 300; 0 turns caching off), and the cached policy decides later requests,
  on any method: a policy must cover every method the identity may call.
* The integration gets `requestContext.authorizer`: the principal id and the context's values (strings, numbers and
  booleans only).

The function is invoked as API Gateway's service principal: its resource policy must allow apigateway.amazonaws.com
for the authorizer's ARN (`arn:aws:execute-api:<region>:<account>:<api>/authorizers/<id>`), else 500.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from vwt_deploy.emulator.iam.matching import action_matches, arn_matches

DEFAULT_TTL = 300
EXPLICIT_DENY = "User is not authorized to access this resource with an explicit deny"
IMPLICIT_DENY = "User is not authorized to access this resource"


class Refused(Exception):
    """The authorizer's refusal: a gateway response type (UNAUTHORIZED, ACCESS_DENIED,
    AUTHORIZER_CONFIGURATION_ERROR) and its message."""

    def __init__(self, response_type: str, message: str | None = None):
        self.response_type = response_type
        self.message = message
        super().__init__(message or response_type)


#: call(function ARN, event, source ARN) -> (payload bytes, function error or None); raises Refused when the function
#: may not be invoked or does not answer in time
Invoke = Callable[[str, dict, str], tuple[bytes, str | None]]


class Authorizers:
    """Runs a method's Lambda authorizer, with API Gateway's cache of its answers."""

    def __init__(self, invoke: Invoke, clock: Callable[[], float] = time.monotonic):
        self.invoke = invoke
        self.clock = clock
        self._cache: dict[tuple, tuple[float, dict]] = {}
        self._lock = threading.Lock()

    def authorize(self, authorizer: Any, request: Any, method_arn: str, event_extra: dict) -> dict:
        """`requestContext.authorizer` of a request the authorizer allows; Refused otherwise. `event_extra` is the
        REQUEST event's request part (headers, query, path parameters, context)."""
        kind = (getattr(authorizer, "type", None) or "TOKEN").upper()
        identity, event = _identity(authorizer, kind, request, method_arn, event_extra)
        ttl = _ttl(authorizer)
        key = (authorizer.id, identity)
        answer = self._cached(key, ttl)
        if answer is None:
            answer = self._call(authorizer, event)
            if ttl > 0:
                with self._lock:
                    self._cache[key] = (self.clock() + ttl, answer)
        _decide(answer["policyDocument"], method_arn)
        return {"principalId": answer["principalId"], **answer["context"]}

    def _cached(self, key: tuple, ttl: int) -> dict | None:
        if ttl <= 0:
            return None
        with self._lock:
            found = self._cache.get(key)
            if found is not None and found[0] > self.clock():
                return found[1]
            self._cache.pop(key, None)
        return None

    def _call(self, authorizer: Any, event: dict) -> dict:
        uri = authorizer.authorizer_uri or ""
        if "/functions/" not in uri:
            raise Refused("AUTHORIZER_CONFIGURATION_ERROR")
        function = uri.split("/functions/", 1)[1].rsplit("/invocations", 1)[0]
        payload, function_error = self.invoke(function, event, authorizer.id)
        if function_error:
            try:
                message = json.loads(payload).get("errorMessage")
            except (ValueError, AttributeError):
                message = None
            if message == "Unauthorized":
                raise Refused("UNAUTHORIZED")
            raise Refused("AUTHORIZER_CONFIGURATION_ERROR")
        return _answer(payload)


def _identity(authorizer: Any, kind: str, request: Any, method_arn: str, event_extra: dict) -> tuple[tuple, dict]:
    """(the cache key's identity, the function's event), or Refused UNAUTHORIZED when an identity source is missing."""
    sources = [s.strip() for s in (authorizer.identity_source or "").split(",") if s.strip()]
    if kind == "TOKEN":
        header = (sources[0] if sources else "method.request.header.Authorization").rsplit(".", 1)[-1]
        token = request.headers.get(header)
        expression = getattr(authorizer, "identity_validation_expression", None)
        if not token or (expression and not re.fullmatch(expression, token)):
            raise Refused("UNAUTHORIZED")
        return (token,), {"type": "TOKEN", "authorizationToken": token, "methodArn": method_arn}
    values = []
    for source in sources:
        _, _, where, name = (source.split(".", 3) + ["", "", "", ""])[:4]
        value = request.headers.get(name) if where == "header" else request.args.get(name)
        if not value:
            raise Refused("UNAUTHORIZED")
        values.append(value)
    return tuple(values), {"type": "REQUEST", "methodArn": method_arn, **event_extra}


def _ttl(authorizer: Any) -> int:
    value = getattr(authorizer, "authorizer_result_ttl", None)  # moto's name of authorizerResultTtlInSeconds
    return DEFAULT_TTL if value is None else int(value)


def _answer(payload: bytes) -> dict:
    """The function's answer, checked as API Gateway checks it; AUTHORIZER_CONFIGURATION_ERROR when unusable."""
    try:
        answer = json.loads(payload)
    except ValueError:
        raise Refused("AUTHORIZER_CONFIGURATION_ERROR") from None
    if not isinstance(answer, dict) or "principalId" not in answer:
        raise Refused("AUTHORIZER_CONFIGURATION_ERROR")
    policy = answer.get("policyDocument")
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except ValueError:
            policy = None
    if not isinstance(policy, dict) or not isinstance(policy.get("Statement"), (list, dict)):
        raise Refused("AUTHORIZER_CONFIGURATION_ERROR")
    context = answer.get("context") or {}
    if not isinstance(context, dict) or not all(
        isinstance(v, (str, int, float, bool)) and not isinstance(v, dict) for v in context.values()
    ):
        raise Refused("AUTHORIZER_CONFIGURATION_ERROR")  # "context ... values can only be strings, numbers, booleans"
    return {"principalId": str(answer["principalId"]), "policyDocument": policy, "context": context}


def _listed(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _decide(policy: dict, method_arn: str) -> None:
    """Refused ACCESS_DENIED unless the policy allows execute-api:Invoke on the method and denies nothing of it."""
    allowed = False
    for statement in _listed(policy.get("Statement")):
        if not isinstance(statement, dict):
            continue
        if not any(action_matches(str(a), "execute-api:Invoke") for a in _listed(statement.get("Action", []))):
            continue
        if not any(arn_matches(str(r), method_arn) for r in _listed(statement.get("Resource", []))):
            continue
        if statement.get("Effect") == "Deny":
            raise Refused("ACCESS_DENIED", EXPLICIT_DENY)
        allowed = allowed or statement.get("Effect") == "Allow"
    if not allowed:
        raise Refused("ACCESS_DENIED", IMPLICIT_DENY)
