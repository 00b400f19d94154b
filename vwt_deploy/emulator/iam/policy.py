"""Evaluate one request against a principal's identity-based policies and a resource's policy, as AWS does.

Implements the IAM User Guide, "Policy evaluation logic", sections "Evaluating
policies within a single account" and "Determining whether a request is allowed
or denied within an account" (permissions boundaries, SCPs, RCPs and session
policies are out of scope):

1. "By default, all requests are implicitly denied with the exception of the AWS
   account root user, which has full access."
2. Deny evaluation: "If the enforcement code finds even one explicit deny that
   applies, the code returns a final decision of Deny."
3. "For most resources, you only need an explicit allow for the principal in
   either an identity-based policy or a resource-based policy to grant access.
   IAM role trust policies and KMS key policies are exceptions to this logic,
   because they must explicitly allow access for principals." For KMS the AWS KMS
   Developer Guide, "Key policies in AWS KMS": "Unless the key policy explicitly
   allows it, you cannot use IAM policies to allow access to a KMS key. Without
   permission from the key policy, IAM policies that allow permissions have no
   effect." A key policy that names the account (`arn:aws:iam::<acct>:root`)
   "enables IAM policies": then an identity-based Allow is required as well.
4. A resource policy that names the role ARN applies to the role's sessions
   (see principals.py); one that names only the account delegates to the
   account's identity-based policies ("AWS account principals": "This delegates
   authority to the account"), so it does not grant on its own.
5. Cross-account ("Cross-account policy evaluation logic"): the identity-based
   policy in the requester's account *and* the resource-based policy must allow.

The denial messages follow the IAM User Guide, "Troubleshoot access denied error
messages": `User: <arn> is not authorized to perform: <action> on resource:
<resource> because no <type> policy allows the <action> action`, or `... with an
explicit deny in a <type> policy`; see `denial_message`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from vwt_deploy.emulator.iam.conditions import (
    Context,
    PolicyError,
    condition_matches,
    normalise_context,
)
from vwt_deploy.emulator.iam.matching import (
    Unresolved,
    action_matches,
    arn_matches,
    substitute,
)
from vwt_deploy.emulator.iam.principals import (
    Principal,
    PrincipalMatch,
    not_principal_exempts,
    principal_match,
)

IDENTITY = "identity-based"
RESOURCE = "resource-based"


@dataclass(frozen=True)
class Request:
    """One request: who (`principal_arn`, a role session ARN, user ARN or service principal such as
    `sns.amazonaws.com`), what (`action`, `service:Action`), on what (`resource_arn`, or `*` for actions without
    resource types), and the request context (`aws:SourceArn`, `aws:SecureTransport`, ...; keys are case
    insensitive; values str, list of str, bool or number).

    `resource_account` is the account that owns the resource; it defaults to the account in `resource_arn`, or,
    for ARNs without one (S3), to the principal's account (same-account evaluation).
    """

    principal_arn: str
    action: str
    resource_arn: str
    context: Mapping[str, Any] = field(default_factory=dict)
    resource_account: str | None = None


@dataclass(frozen=True)
class Policy:
    """A policy document with the name used in reasons and reports (`arn` for managed policies)."""

    document: Mapping[str, Any]
    name: str = "policy"
    arn: str | None = None


@dataclass(frozen=True)
class MatchedStatement:
    """A statement that applied to the request (action, resource, principal and condition all matched)."""

    policy: str
    policy_type: str  # IDENTITY or RESOURCE
    index: int
    sid: str | None
    effect: str  # "Allow" | "Deny"
    statement: Mapping[str, Any]
    principal_match: PrincipalMatch | None = None
    policy_arn: str | None = None

    @property
    def label(self) -> str:
        """`<policy> <sid>`, or `<policy> statement <n>` (1-based) when the statement has no Sid."""
        return f"{self.policy} {self.sid}" if self.sid else f"{self.policy} statement {self.index + 1}"


@dataclass(frozen=True)
class Decision:
    """The outcome: `allowed`, a short `reason`, every statement that applied (`matched`, for "which permissions
    were used" reports), and, when denied, what AWS's message names (`deny_kind` "explicit"/"implicit" and the
    `policy_type` at fault). `message` is AWS's access denied text (None when allowed)."""

    allowed: bool
    reason: str
    request: Request
    matched: tuple[MatchedStatement, ...] = ()
    deny_kind: str | None = None
    policy_type: str | None = None
    policy_arn: str | None = None

    @property
    def message(self) -> str | None:
        return None if self.allowed else denial_message(self)


def denial_message(decision: Decision, *, include_policy_arn: bool = False) -> str:
    """AWS's access denied message for a denied `decision`.

    Wording from the IAM User Guide, "Troubleshoot access denied error messages": "Most access denied error
    messages appear in the format User user is not authorized to perform action on resource because context";
    explicit: "with an explicit deny in a type policy" (examples: "with an explicit deny in an identity-based
    policy", "with an explicit deny in a resource-based policy"); implicit: "because no type policy allows the
    action action" (example: "because no identity-based policy allows the codecommit:ListRepositories action").
    The examples for actions without a resource (codecommit:ListRepositories) leave out "on resource:", as
    here for `*`. KMS answers in the same form (observed: "... kms:Decrypt on resource: arn:aws:kms:...:key/...
    because no resource-based policy allows the kms:Decrypt action"). Since 2026 AWS adds ": <policy ARN>" to
    explicit denies from managed policies (AWS Security Blog, "Enhanced access denied error messages with policy
    ARNs", rolling out gradually): `include_policy_arn=True`.
    """
    request = decision.request
    head = f"User: {request.principal_arn} is not authorized to perform: {request.action}"
    if request.resource_arn not in ("", "*"):
        head += f" on resource: {request.resource_arn}"
    policy_type = decision.policy_type or IDENTITY
    if decision.deny_kind == "explicit":
        article = "an" if policy_type[0] in "aeiou" else "a"
        tail = f" with an explicit deny in {article} {policy_type} policy"
        if include_policy_arn and decision.policy_arn:
            tail += f": {decision.policy_arn}"
        return head + tail
    return head + f" because no {policy_type} policy allows the {request.action} action"


def _listed(value: object) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The statements of a policy document (`Statement` may be one object or a list)."""
    found = [item for item in _listed(document.get("Statement")) if isinstance(item, Mapping)]
    if len(found) != len(_listed(document.get("Statement"))):
        raise PolicyError("every Statement entry must be an object")
    return found


def _action_applies(statement: Mapping[str, Any], action: str) -> bool:
    """`Action` / `NotAction` ("IAM JSON policy elements: NotAction": the statement matches every action except
    those listed)."""
    if "Action" in statement:
        return any(action_matches(str(pattern), action) for pattern in _listed(statement["Action"]))
    if "NotAction" in statement:
        return not any(action_matches(str(pattern), action) for pattern in _listed(statement["NotAction"]))
    raise PolicyError("a statement needs Action or NotAction")


def _resource_pattern_matches(pattern: str, resource: str, context: Context, version: str | None) -> bool:
    """One `Resource` entry, with policy variables resolved; one whose variable has no value matches nothing
    ("Policy variables with no value")."""
    try:
        return arn_matches(substitute(pattern, context, version), resource)
    except Unresolved:
        return False


def _resource_applies(
    statement: Mapping[str, Any], resource: str, context: Context, version: str | None, *, required: bool
) -> bool:
    """`Resource` / `NotResource` ("IAM JSON policy elements: Resource", "...: NotResource"). A resource-based
    policy statement without either applies to the resource it is attached to (`required=False`)."""
    if "Resource" in statement:
        patterns = _listed(statement["Resource"])
        return any(_resource_pattern_matches(str(p), resource, context, version) for p in patterns)
    if "NotResource" in statement:
        patterns = _listed(statement["NotResource"])
        return not any(_resource_pattern_matches(str(p), resource, context, version) for p in patterns)
    if required:
        raise PolicyError("an identity-based policy statement needs Resource or NotResource")
    return True


def _principal_applies(statement: Mapping[str, Any], principal: Principal) -> PrincipalMatch | None:
    """`Principal` / `NotPrincipal` of a resource-based policy statement (see principals.py)."""
    if "Principal" in statement:
        return principal_match(statement["Principal"], principal)
    if "NotPrincipal" in statement:
        return None if not_principal_exempts(statement["NotPrincipal"], principal) else PrincipalMatch.DIRECT
    raise PolicyError("a resource-based policy statement needs Principal or NotPrincipal")


@dataclass(frozen=True)
class _Evaluation:
    """What the evaluator knows about one request while it runs."""

    request: Request
    principal: Principal
    action: str
    context: Context


def _effect(statement: Mapping[str, Any]) -> str:
    effect = statement.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyError(f"Effect must be Allow or Deny, not {effect!r}")
    return str(effect)


def _matching_statements(policy: Policy, policy_type: str, run: _Evaluation) -> list[MatchedStatement]:
    """The statements of `policy` that apply to the request: action, resource, (resource-based) principal and
    condition all match. An identity-based statement with a Principal is rejected, as IAM does ("You cannot
    use the Principal element in an identity-based policy")."""
    version = policy.document.get("Version")
    found = []
    for index, statement in enumerate(statements(policy.document)):
        effect = _effect(statement)
        match: PrincipalMatch | None = None
        if policy_type == RESOURCE:
            match = _principal_applies(statement, run.principal)
            if match is None:
                continue
        elif "Principal" in statement or "NotPrincipal" in statement:
            raise PolicyError(f"{policy.name}: Principal is not allowed in an identity-based policy")
        if not _action_applies(statement, run.action):
            continue
        if not _resource_applies(
            statement, run.request.resource_arn, run.context, version, required=policy_type == IDENTITY
        ):
            continue
        if not condition_matches(statement.get("Condition"), run.context, version):
            continue
        sid = statement.get("Sid")
        found.append(
            MatchedStatement(
                policy.name, policy_type, index, str(sid) if sid else None, effect, statement, match, policy.arn
            )
        )
    return found


def _as_policy(item: Policy | Mapping[str, Any], default_name: str) -> Policy:
    return item if isinstance(item, Policy) else Policy(item, default_name)


def _default_context(request: Request, principal: Principal) -> dict[str, list[str]]:
    """The request context with the keys AWS always fills for an IAM principal, unless the caller gave them:
    `aws:PrincipalArn` (for a role session, the role ARN, which this library knows without the role's path)
    and `aws:PrincipalAccount` ("AWS global condition context keys")."""
    context = normalise_context(request.context)
    if principal.has_identity_policies and principal.account:
        context.setdefault("aws:principalaccount", [principal.account])
        context.setdefault("aws:principalarn", [principal.role_arn or principal.arn])
    return context


def _resource_account(request: Request, principal: Principal) -> str | None:
    if request.resource_account:
        return request.resource_account
    parts = request.resource_arn.split(":", 5)
    if len(parts) == 6 and parts[4]:
        return parts[4]
    return principal.account


def _is_kms_key(resource_arn: str) -> bool:
    parts = resource_arn.split(":", 5)
    return len(parts) == 6 and parts[2] == "kms" and parts[5].startswith("key/")


@dataclass(frozen=True)
class _Allows:
    """The first applicable Allow of each kind: identity-based, resource-based naming the principal, and
    resource-based naming only its account."""

    identity: MatchedStatement | None
    direct: MatchedStatement | None
    account: MatchedStatement | None

    @classmethod
    def of(cls, matched: Sequence[MatchedStatement]) -> _Allows:
        allows = [m for m in matched if m.effect == "Allow"]
        return cls(
            next((m for m in allows if m.policy_type == IDENTITY), None),
            next((m for m in allows if m.principal_match is PrincipalMatch.DIRECT), None),
            next((m for m in allows if m.principal_match is PrincipalMatch.ACCOUNT), None),
        )


def _allow(run: _Evaluation, matched: tuple[MatchedStatement, ...], *grants: MatchedStatement) -> Decision:
    return Decision(True, "allowed by " + " and ".join(g.label for g in grants), run.request, matched)


def _deny(run: _Evaluation, matched: tuple[MatchedStatement, ...], policy_type: str, reason: str) -> Decision:
    return Decision(False, reason, run.request, matched, "implicit", policy_type)


def _cross_account(run: _Evaluation, matched: tuple[MatchedStatement, ...], allows: _Allows) -> Decision:
    """ "Cross-account policy evaluation logic": both the requester's identity-based policy and the resource's
    policy must allow (the resource policy may name the principal or its account)."""
    if allows.identity is None:
        return _deny(run, matched, IDENTITY, "no identity-based policy allows")
    granted = allows.direct or allows.account
    if granted is None:
        return _deny(run, matched, RESOURCE, "no resource-based policy allows")
    return _allow(run, matched, allows.identity, granted)


def _kms_key(run: _Evaluation, matched: tuple[MatchedStatement, ...], allows: _Allows) -> Decision:
    """KMS keys ("Key policies in AWS KMS"): the key policy must allow, naming the principal (enough on its own)
    or the account (which "enables IAM policies": then an identity-based Allow is needed too; the account root
    user needs none)."""
    if allows.direct is not None:
        return _allow(run, matched, allows.direct)
    if allows.account is None:
        return _deny(run, matched, RESOURCE, "no key policy allows")
    if run.principal.kind == "root":
        return _allow(run, matched, allows.account)
    if allows.identity is None:
        return _deny(run, matched, IDENTITY, "no identity-based policy allows")
    return _allow(run, matched, allows.identity, allows.account)


def _same_account(run: _Evaluation, matched: tuple[MatchedStatement, ...], allows: _Allows) -> Decision:
    """Same account, not a KMS key: an Allow in an identity-based policy or in a resource-based policy that
    names the principal (or its role) is enough. A service principal has no identity-based policies."""
    if run.principal.kind == "root":
        return Decision(True, "allowed: the account root user has full access", run.request, matched)
    granted = allows.identity or allows.direct
    if granted is not None:
        return _allow(run, matched, granted)
    if not run.principal.has_identity_policies:
        return _deny(run, matched, RESOURCE, "no resource-based policy allows")
    return _deny(run, matched, IDENTITY, "no identity-based policy allows")


def evaluate(
    request: Request,
    identity_policies: Iterable[Policy | Mapping[str, Any]] = (),
    resource_policy: Policy | Mapping[str, Any] | None = None,
) -> Decision:
    """Whether AWS allows `request`, given the principal's identity-based policies (inline and managed, as
    `Policy` or plain documents) and the resource's policy (bucket, key, topic, queue or function policy).

    Explicit deny first, then the allow rules in the module docstring. Raises PolicyError for a document IAM
    would reject (unknown condition operator, Principal in an identity-based policy, no Action, ...) when the
    evaluation reaches the faulty part: documents are checked as they are evaluated, not validated up front.
    """
    principal = Principal.parse(request.principal_arn)
    run = _Evaluation(request, principal, request.action, _default_context(request, principal))
    found: list[MatchedStatement] = []
    if principal.has_identity_policies:
        for number, item in enumerate(identity_policies, start=1):
            found += _matching_statements(_as_policy(item, f"identity policy {number}"), IDENTITY, run)
    if resource_policy is not None:
        found += _matching_statements(_as_policy(resource_policy, "resource policy"), RESOURCE, run)
    matched = tuple(found)
    deny = next((m for m in matched if m.effect == "Deny"), None)
    if deny is not None:
        return Decision(
            False, f"explicit deny in {deny.label}", request, matched, "explicit", deny.policy_type, deny.policy_arn
        )
    allows = _Allows.of(matched)
    resource_account = _resource_account(request, principal)
    if principal.account is not None and resource_account != principal.account:
        return _cross_account(run, matched, allows)
    if _is_kms_key(request.resource_arn):
        return _kms_key(run, matched, allows)
    return _same_account(run, matched, allows)
