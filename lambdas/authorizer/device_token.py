"""The device-token authorizer: API Gateway's TOKEN authorizer of `POST /v1/operators/{operator}/models/{model}/
predictions`, the route players' devices call with a bearer token of their operator's identity provider.

Configuration (environment variables, set by Terraform):

  VWT_DEVICE_IDENTITIES   JSON: operator id -> {"issuer", "jwks_url", "audience", "player_claim"}
  VWT_TOKEN_ALGORITHMS    comma-separated signing algorithms accepted (never `none`, never HS*)
  VWT_TOKEN_LEEWAY        seconds of clock skew allowed on exp and nbf

For each call (API Gateway Developer Guide, "Input to" and "Output from an API Gateway Lambda authorizer"):

* `Authorization: Bearer <JWT>` (API Gateway already refused a missing or malformed header with 401);
* the token's header must name an accepted algorithm, and its unverified `iss` an operator's issuer;
* its signature is verified with that issuer's key (by `kid`, from its JWKS, kept warm between calls), then `iss`,
  `aud`, `exp` and `nbf` (with the leeway); any failure raises `Unauthorized` (401);
* a JWKS that cannot be fetched raises another error: API Gateway answers AUTHORIZER_CONFIGURATION_ERROR, which the
  API maps to 503, and nothing is scored;
* the answer allows execute-api:Invoke on this operator's device route only (API Gateway caches it per token, so
  it covers every model of the operator), with the operator id and, when the token carries it, the player id as
  context; the prediction function refuses records of any other player (403).
"""

from __future__ import annotations

import json
import os

import jwt

_CLIENTS: dict[str, jwt.PyJWKClient] = {}  # per JWKS URL: its keys kept between warm invocations


class Unauthorized(Exception):
    """API Gateway answers 401 when the authorizer fails with exactly this message."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


def _settings() -> tuple[dict, list[str], int]:
    identities = json.loads(os.environ["VWT_DEVICE_IDENTITIES"])
    algorithms = [a.strip() for a in os.environ.get("VWT_TOKEN_ALGORITHMS", "RS256").split(",") if a.strip()]
    return identities, algorithms, int(os.environ.get("VWT_TOKEN_LEEWAY", "30"))


def _operator(token: str, identities: dict, algorithms: list[str]) -> tuple[str, dict]:
    """The operator whose issuer the (unverified) token names, and its identity; Unauthorized otherwise."""
    try:
        header = jwt.get_unverified_header(token)
        issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
    except jwt.InvalidTokenError:
        raise Unauthorized() from None
    if header.get("alg") not in algorithms:
        raise Unauthorized()
    found = [(o, i) for o, i in identities.items() if i["issuer"] == issuer]
    if len(found) != 1:
        raise Unauthorized()
    return found[0]


def _client(url: str) -> jwt.PyJWKClient:
    if url not in _CLIENTS:
        _CLIENTS[url] = jwt.PyJWKClient(url, cache_keys=True, lifespan=300, timeout=5)
    return _CLIENTS[url]


def handler(event: dict, context: object) -> dict:
    identities, algorithms, leeway = _settings()
    scheme, _, token = str(event.get("authorizationToken", "")).partition(" ")
    if scheme != "Bearer" or not token:
        raise Unauthorized()
    operator, identity = _operator(token, identities, algorithms)
    try:
        key = _client(identity["jwks_url"]).get_signing_key_from_jwt(token)
    except jwt.PyJWKClientConnectionError as exc:  # the identity provider cannot be reached: not the caller's fault
        raise RuntimeError(f"the identity provider of {operator} cannot be reached: {exc}") from None
    except jwt.PyJWKClientError:  # no key of that kid: a token this issuer did not sign
        raise Unauthorized() from None
    try:
        claims = jwt.decode(
            token,
            key.key,
            algorithms=algorithms,
            audience=identity["audience"],
            issuer=identity["issuer"],
            leeway=leeway,
            options={"require": ["exp", "iss", "aud"]},
        )
    except jwt.InvalidTokenError:
        raise Unauthorized() from None
    arn = event["methodArn"]  # arn:aws:execute-api:<region>:<account>:<api>/<stage>/<METHOD>/<path>
    api, stage = arn.split("/")[0], arn.split("/")[1]
    player = claims.get(identity.get("player_claim") or "player_id")
    context_values = {"operator_id": operator}
    if isinstance(player, (str, int)) and str(player):
        context_values["player_id"] = str(player)
    return {
        "principalId": f"{operator}:{claims.get('sub', '')}",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "execute-api:Invoke",
                    "Resource": f"{api}/{stage}/POST/v1/operators/{operator}/models/*/predictions",
                }
            ],
        },
        "context": context_values,
    }
