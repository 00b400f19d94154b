"""AssumeRoleWithWebIdentity's checks, as STS makes them: the token's signature and expiry, the account's OIDC
provider for its issuer and audience, and the role's trust policy with the token's claims as condition keys."""

from __future__ import annotations

from typing import Any

import pytest

from vwt_deploy.emulator.iam.policy import Request, evaluate
from vwt_deploy.emulator.webidentity import Issuer, Refusal, WebIdentity

ACCOUNT = "123456789012"
PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/vwt-dev-deploy"
SUB = "repo:vwt/framework:environment:dev"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Federated": PROVIDER},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {
                    "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                    "token.actions.githubusercontent.com:sub": SUB,
                }
            },
        }
    ],
}


class _Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class _Iam:
    """The account's OIDC providers, as IAM's GetOpenIDConnectProvider answers."""

    class exceptions:  # noqa: N801 - boto3's spelling
        class NoSuchEntityException(Exception):
            pass

    def __init__(self, providers: dict[str, list[str]]):
        self.providers = providers

    def get_open_id_connect_provider(self, OpenIDConnectProviderArn: str) -> dict[str, Any]:  # noqa: N803
        if OpenIDConnectProviderArn not in self.providers:
            raise self.exceptions.NoSuchEntityException()
        return {"ClientIDList": self.providers[OpenIDConnectProviderArn]}


def _sts(providers: dict[str, list[str]] | None = None, clock: _Clock | None = None) -> WebIdentity:
    """The checks with the real policy evaluator deciding TRUST (None when allowed, as the enforcement answers)."""

    def trusts(provider: str, role: str, context: dict[str, str]) -> str | None:
        decision = evaluate(Request(provider, "sts:AssumeRoleWithWebIdentity", role, context), (), TRUST)
        return None if decision.allowed and role == ROLE else "refused"

    iam = _Iam({PROVIDER: ["sts.amazonaws.com"]} if providers is None else providers)
    return WebIdentity(Issuer(clock or _Clock()), lambda service: iam, trusts)


def _ask(sts: WebIdentity, token: str, role: str = ROLE) -> Refusal | None:
    return sts.refusal({"RoleArn": role, "RoleSessionName": "GitHubActions", "WebIdentityToken": token})


def test_the_environments_token_is_accepted_and_carries_githubs_claims():
    sts = _sts()
    token = sts.issuer.mint(SUB, "sts.amazonaws.com")
    assert _ask(sts, token) is None
    claims = sts.issuer.claims(token)
    assert isinstance(claims, dict)
    assert (claims["iss"], claims["repository"], claims["environment"]) == (
        "https://token.actions.githubusercontent.com",
        "vwt/framework",
        "dev",
    )


def test_an_expired_token_gets_stss_expired_token_error():
    clock = _Clock()
    sts = _sts(clock=clock)
    token = sts.issuer.mint(SUB, "sts.amazonaws.com", lifetime=300)
    clock.now += 301
    refused = _ask(sts, token)
    assert refused is not None and refused.code == "ExpiredTokenException"
    assert refused.message.startswith("Token expired: current date/time")


@pytest.mark.parametrize(
    ("token", "providers", "code", "message"),
    [
        ("not-a-token", None, "InvalidIdentityToken", "could not be validated"),
        ("other-issuer", None, "InvalidIdentityToken", "could not be validated"),
        ("good", {}, "InvalidIdentityToken", "No OpenIDConnect provider found in your account for https://"),
        ("good", {PROVIDER: ["some-other-client"]}, "InvalidIdentityToken", "Incorrect token audience"),
    ],
)
def test_a_token_sts_cannot_validate_is_refused_with_its_reason(token, providers, code, message):
    sts = _sts(providers)
    if token == "good":
        token = sts.issuer.mint(SUB, "sts.amazonaws.com")
    elif token == "other-issuer":  # signed by another key (another emulator, or anyone else)
        token = Issuer().mint(SUB, "sts.amazonaws.com")
    refused = _ask(sts, token)
    assert refused is not None and (refused.code, refused.status) == (code, 400)
    assert message in refused.message


@pytest.mark.parametrize("sub", ["repo:vwt/framework:environment:prod", "repo:vwt/framework:ref:refs/heads/main"])
def test_a_token_the_trust_policy_does_not_name_is_access_denied(sub):
    sts = _sts()
    refused = _ask(sts, sts.issuer.mint(sub, "sts.amazonaws.com"))
    assert refused is not None
    assert (refused.code, refused.status) == ("AccessDenied", 403)
    assert refused.message == "Not authorized to perform sts:AssumeRoleWithWebIdentity"
    status, headers, body = refused.response()
    assert status == 403 and b"<Code>AccessDenied</Code>" in body


def test_a_federated_principal_names_only_its_identity_provider():
    """`{"Federated": <provider ARN>}` matches that provider, not a role or user of the account, nor a service."""
    context = {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
               "token.actions.githubusercontent.com:sub": SUB}  # fmt: skip
    for principal, allowed in (
        (PROVIDER, True),
        (f"arn:aws:iam::{ACCOUNT}:oidc-provider/accounts.google.com", False),
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/admin/me", False),
        ("sts.amazonaws.com", False),
    ):
        decision = evaluate(Request(principal, "sts:AssumeRoleWithWebIdentity", ROLE, context), (), TRUST)
        assert decision.allowed is allowed, principal
