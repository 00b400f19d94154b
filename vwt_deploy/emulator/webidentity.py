"""GitHub Actions' OIDC tokens, locally: the emulator issues them, and its STS holds them to AWS's checks.

On GitHub a job with `id-token: write` gets a signed token from GitHub's token service whose `sub` names the
repository and the job's GitHub Environment (`repo:<owner>/<name>:environment:<env>`), and
`aws-actions/configure-aws-credentials` hands it to STS AssumeRoleWithWebIdentity. AWS then checks (STS API
Reference, AssumeRoleWithWebIdentity, "Errors"; IAM User Guide, "Create an OpenID Connect (OIDC) identity provider
in IAM" and "Create a role for OpenID Connect federation"):

* the token is the issuer's (its signature) and has not expired: InvalidIdentityToken, ExpiredTokenException;
* the account has an IAM OIDC provider for the token's issuer (`iss`), and the token's audience (`aud`) is one of
  the provider's client IDs: InvalidIdentityToken;
* the role's trust policy allows `sts:AssumeRoleWithWebIdentity` to that provider (`"Principal": {"Federated":
  <provider ARN>}`), with the token's claims as the condition keys `<issuer host>:aud` and `<issuer host>:sub`:
  AccessDenied, "Not authorized to perform sts:AssumeRoleWithWebIdentity" (a role that does not exist gets the same
  answer).

moto's STS checks none of them and issues credentials for any token. Here `Issuer` plays GitHub's token service
(an RSA key made when first asked, signing RS256 tokens as GitHub's are), and `WebIdentity.refusal` decides an
AssumeRoleWithWebIdentity request by the rules above before moto answers it.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
#: how long a token the local issuer signs may be handed to STS: a few minutes, as an OIDC ID token is short-lived
TOKEN_LIFETIME = 300
ACTION = "sts:AssumeRoleWithWebIdentity"


@dataclass(frozen=True)
class Refusal:
    """STS's error answer: its code, message and HTTP status."""

    code: str
    message: str
    status: int = 400

    def response(self) -> tuple[int, list[tuple[str, str]], bytes]:
        """The answer in STS's query protocol (`<ErrorResponse>`)."""
        from xml.sax.saxutils import escape

        xml = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
            f"<Error><Type>Sender</Type><Code>{self.code}</Code><Message>{escape(self.message)}</Message></Error>"
            f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
        ).encode()
        return self.status, [("Content-Type", "text/xml"), ("Content-Length", str(len(xml)))], xml


_INVALID = (
    "The web identity token that was passed could not be validated by AWS. Get a new identity token from the "
    "identity provider and then retry the request."
)


class Issuer:
    """The local stand-in of GitHub's token service: signs tokens of `GITHUB_ISSUER` with one key per emulator."""

    def __init__(self, clock: Callable[[], float] = time.time):
        self.clock = clock
        self._key: Any = None
        self._lock = threading.Lock()

    def key(self) -> Any:
        from joserfc.jwk import RSAKey

        with self._lock:
            if self._key is None:
                self._key = RSAKey.generate_key(2048, parameters={"kid": uuid.uuid4().hex[:16], "use": "sig"})
            return self._key

    def mint(self, subject: str, audience: str, lifetime: int = TOKEN_LIFETIME) -> str:
        """A token for `subject` (GitHub's `sub`: `repo:<owner>/<name>:environment:<env>`) and `audience`."""
        from joserfc import jwt

        now = int(self.clock())
        claims: dict[str, Any] = {
            "iss": GITHUB_ISSUER,
            "aud": audience,
            "sub": subject,
            "jti": uuid.uuid4().hex,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
        }
        repository, _, environment = subject.removeprefix("repo:").partition(":environment:")
        if subject.startswith("repo:"):  # the claims GitHub adds beside sub
            claims["repository"] = repository.split(":", 1)[0]
        if environment:
            claims["environment"] = environment
        key = self.key()
        return jwt.encode({"alg": "RS256", "kid": key.kid, "typ": "JWT"}, claims, key)

    def claims(self, token: str) -> dict[str, Any] | Refusal:
        """The token's claims if this issuer signed it and it has not expired, else STS's refusal."""
        from joserfc import jwt
        from joserfc.errors import JoseError

        try:
            claims = dict(jwt.decode(token, self.key(), algorithms=["RS256"]).claims)
        except (JoseError, ValueError, TypeError):
            return Refusal("InvalidIdentityToken", _INVALID)
        now = int(self.clock())
        expires = claims.get("exp")
        if not isinstance(expires, int) or now >= expires:
            return Refusal(
                "ExpiredTokenException",
                f"Token expired: current date/time {now} must be before the expiration date/time{expires}",
            )
        return claims


class WebIdentity:
    """Decides AssumeRoleWithWebIdentity: the token (`issuer`), the account's OIDC providers (read through the
    administrator's `client("iam")`), and the role's trust policy (`trusts(provider_arn, role_arn, context)`: the
    enforcement's resource-policy decision, None when allowed)."""

    def __init__(self, issuer: Issuer, client: Callable[..., Any], trusts: Callable[..., str | None]):
        self.issuer = issuer
        self.client = client
        self.trusts = trusts

    def refusal(self, params: Mapping[str, str]) -> Refusal | None:
        """Why STS refuses the request (its parameters), or None to let it issue the credentials."""
        role_arn = params.get("RoleArn", "")
        claims = self.issuer.claims(params.get("WebIdentityToken", ""))
        if isinstance(claims, Refusal):
            return claims
        issuer = str(claims.get("iss", ""))
        host = issuer.removeprefix("https://")
        account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else ""
        provider = self._provider(f"arn:aws:iam::{account}:oidc-provider/{host}")
        if provider is None:
            return Refusal("InvalidIdentityToken", f"No OpenIDConnect provider found in your account for {issuer}")
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if not set(audiences) & set(provider["ClientIDList"]):
            return Refusal("InvalidIdentityToken", "Incorrect token audience")
        context = {f"{host}:aud": audiences[0], f"{host}:sub": str(claims.get("sub", ""))}
        if params.get("RoleSessionName"):
            context["sts:RoleSessionName"] = params["RoleSessionName"]
        if self.trusts(provider["Arn"], role_arn, context):
            return Refusal("AccessDenied", f"Not authorized to perform {ACTION}", 403)
        return None

    def _provider(self, arn: str) -> dict[str, Any] | None:
        iam = self.client("iam")
        try:
            found = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
        except iam.exceptions.NoSuchEntityException:
            return None
        return {"Arn": arn, "ClientIDList": list(found.get("ClientIDList", []))}


def token_answer(issuer: Issuer, query: Mapping[str, list[str]]) -> tuple[str, bytes]:
    """The token endpoint (`GET /_vwt/oidc/token?sub=...&audience=...`), answered as GitHub's is: `{"value": ...}`;
    ("400 Bad Request", a message) without a `sub`."""
    subject = (query.get("sub") or [""])[0]
    if not subject:
        message = "sub is required: repo:<owner>/<name>:environment:<env>"
        return "400 Bad Request", json.dumps({"message": message}).encode()
    audience = (query.get("audience") or ["sts.amazonaws.com"])[0]
    return "200 OK", json.dumps({"value": issuer.mint(subject, audience)}).encode()
