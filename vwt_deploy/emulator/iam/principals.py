"""Who is asking, and whether a resource policy's `Principal` / `NotPrincipal` names them.

Sources (IAM User Guide, "AWS JSON policy elements: Principal" and "...: NotPrincipal"):

* `"*"` and `{"AWS": "*"}` are every principal, anonymous ones included.
* An account is named by its 12-digit ID or `arn:aws:iam::<account>:root`; both
  "delegate permissions to the account" ("an administrator in that account must
  then grant access to an identity"): a match through the account is returned as
  `ACCOUNT`, not `DIRECT`, and the evaluator requires an identity-based Allow too.
* A role is named `arn:aws:iam::<account>:role/<name>`; "When a principal or
  identity assumes a role ... they become a role session principal", whose ARN is
  `arn:aws:sts::<account>:assumed-role/<role-name>/<session-name>`. "Policy
  evaluation logic" (resource-based policies, "IAM role"): "Resource-based policies
  that grant permissions to an IAM role ARN are limited by an implicit deny in a
  permissions boundary or session policy", i.e. they apply to the role's sessions.
  So a role ARN matches its sessions (by account and role name: the session ARN
  carries no role path), and a session ARN matches only that session.
* "You cannot use a wildcard to match part of a principal name or ARN", and "the
  user name part of the ARN is case sensitive": ARNs are compared exactly.
* `{"Service": "sns.amazonaws.com"}` names a service principal (a service calling
  on a resource owner's behalf); it is compared case insensitively.
* `{"Federated": "arn:aws:iam::<account>:oidc-provider/<host>"}` names an OIDC identity provider: the
  principal of AssumeRoleWithWebIdentity with that provider's token ("Create a role for OpenID Connect
  federation": the trust policy's `Principal` is the provider's ARN). It is compared exactly; a SAML
  provider's ARN the same way. `CanonicalUser` principals are not modelled: they never match.
* NotPrincipal: the statement applies to every principal *not* named. The doc:
  "If an assumed-role user ... is being evaluated, AWS might validate the account
  first, then the role, and then the assumed-role user"; its examples list the
  session ARN, the role ARN and the account, and warn that leaving out the role or
  the account "might" deny them. Here (the strict reading) a principal is exempt
  only when every link of its chain is listed: account, role and session for a
  role session; account and user for a user; the account for the root user; the
  service name for a service.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum

_ARN = re.compile(r"^arn:(?P<partition>[^:]+):(?P<service>[^:]+):[^:]*:(?P<account>\d{12}):(?P<resource>.+)$")
_ACCOUNT_ID = re.compile(r"^\d{12}$")
_ROOT = re.compile(r"^arn:[^:]+:iam::(\d{12}):root$")


class PrincipalMatch(Enum):
    """How a Principal element names the requester: itself (or its role, or everyone), or only its account."""

    DIRECT = "direct"
    ACCOUNT = "account"


@dataclass(frozen=True)
class Principal:
    """The requester: an IAM ARN (role session, role, user, root) or a service principal name."""

    arn: str
    #: "assumed-role" | "role" | "user" | "root" | "federated-user" | "identity-provider" | "service" | "unknown"
    kind: str
    account: str | None = None
    partition: str = "aws"
    role_name: str | None = None

    @classmethod
    def parse(cls, value: str) -> Principal:
        """Classify `value` by its ARN shape ("IAM identifiers", "Principal" element)."""
        found = _ARN.match(value)
        if not found:
            kind = "service" if value.lower().endswith((".amazonaws.com", ".amazonaws.com.cn")) else "unknown"
            return cls(value, kind)
        account, partition, resource = found["account"], found["partition"], found["resource"]
        service = found["service"]
        if service == "sts" and resource.startswith("assumed-role/"):
            parts = resource.split("/")
            return cls(value, "assumed-role", account, partition, parts[1] if len(parts) > 1 else None)
        if service == "sts" and resource.startswith("federated-user/"):
            return cls(value, "federated-user", account, partition)
        if service == "iam" and resource == "root":
            return cls(value, "root", account, partition)
        if service == "iam" and resource.startswith("role/"):
            return cls(value, "role", account, partition, resource.rsplit("/", 1)[-1])
        if service == "iam" and resource.startswith("user/"):
            return cls(value, "user", account, partition)
        if service == "iam" and resource.startswith(("oidc-provider/", "saml-provider/")):
            return cls(value, "identity-provider", account, partition)
        return cls(value, "unknown", account, partition)

    @property
    def is_service(self) -> bool:
        return self.kind == "service"

    @property
    def has_identity_policies(self) -> bool:
        """Whether the principal is an IAM identity, with identity-based policies and the context keys of a signed
        request; a service and an identity provider (its token's unsigned AssumeRoleWithWebIdentity) are not."""
        return self.kind not in ("service", "identity-provider")

    @property
    def role_arn(self) -> str | None:
        """The role ARN of a role session (without the role's path, which the session ARN does not carry)."""
        if self.kind == "assumed-role" and self.role_name:
            return f"arn:{self.partition}:iam::{self.account}:role/{self.role_name}"
        if self.kind == "role":
            return self.arn
        return None


def _aws_entry_match(entry: str, principal: Principal) -> PrincipalMatch | None:
    """One `{"AWS": ...}` value against the requester."""
    if entry == "*":
        return PrincipalMatch.DIRECT
    if principal.is_service or principal.account is None:
        return None
    root = _ROOT.match(entry)
    if _ACCOUNT_ID.match(entry) or root:
        account = root.group(1) if root else entry
        return PrincipalMatch.ACCOUNT if account == principal.account else None
    if entry == principal.arn:
        return PrincipalMatch.DIRECT
    named = Principal.parse(entry)
    if named.kind == "role" and principal.kind == "assumed-role":
        same = named.account == principal.account and named.role_name == principal.role_name
        return PrincipalMatch.DIRECT if same else None
    return None


def _values(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Iterable):
        return [str(item) for item in value]
    return [str(value)]


def principal_match(element: object, principal: Principal) -> PrincipalMatch | None:
    """How a `Principal` element names `principal` (DIRECT beats ACCOUNT), or None."""
    if element == "*":
        return PrincipalMatch.DIRECT
    if not isinstance(element, Mapping):
        return None
    best: PrincipalMatch | None = None
    for kind, value in element.items():
        for entry in _values(value):
            if kind == "AWS":
                found = _aws_entry_match(entry, principal)
            elif kind == "Service":
                named = principal.is_service and entry.lower() == principal.arn.lower()
                found = PrincipalMatch.DIRECT if named else None
            elif kind == "Federated":
                named = principal.kind == "identity-provider" and entry == principal.arn
                found = PrincipalMatch.DIRECT if named else None
            else:
                found = None  # CanonicalUser: not modelled
            if found is PrincipalMatch.DIRECT:
                return found
            best = best or found
    return best


def _chain(principal: Principal) -> list[str]:
    """The identities NotPrincipal must list to exempt `principal` (see the module docstring)."""
    if principal.is_service:
        return [principal.arn.lower()]
    chain = [f"account:{principal.account}"]
    if principal.kind == "assumed-role":
        chain.append(f"role:{principal.role_name}")
    if principal.kind != "root":
        chain.append(principal.arn)
    return chain


def _listed_identities(element: Mapping[str, object], principal: Principal) -> set[str]:
    """What a NotPrincipal element names, in the terms of `_chain`."""
    listed: set[str] = set()
    for entry in _values(element.get("Service", [])):
        listed.add(entry.lower())
    for entry in _values(element.get("AWS", [])):
        root = _ROOT.match(entry)
        if _ACCOUNT_ID.match(entry) or root:
            listed.add(f"account:{root.group(1) if root else entry}")
            continue
        named = Principal.parse(entry)
        if named.kind == "role" and named.account == principal.account:
            listed.add(f"role:{named.role_name}")
        listed.add(entry)
    return listed


def not_principal_exempts(element: object, principal: Principal) -> bool:
    """Whether a `NotPrincipal` element exempts `principal` (the statement then does not apply to it)."""
    if element == "*":
        return True
    if not isinstance(element, Mapping):
        return False
    if "*" in _values(element.get("AWS", [])):
        return True
    listed = _listed_identities(element, principal)
    return all(link in listed for link in _chain(principal))
