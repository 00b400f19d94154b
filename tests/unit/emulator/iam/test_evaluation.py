"""Policy evaluation against the IAM User Guide's "Policy evaluation logic" (same account, plus the KMS and
cross-account exceptions)."""

from __future__ import annotations

import pytest

from tests.unit.emulator.iam.helpers import (
    ACCOUNT,
    KEY,
    OBJECT,
    OTHER_ACCOUNT,
    OTHER_SESSION,
    ROLE_ARN,
    SESSION,
    TOPIC,
    allow,
    deny,
    doc,
)
from vwt_deploy.emulator.iam import Policy, PolicyError, Request, evaluate


def get(resource: str = OBJECT, action: str = "s3:GetObject", principal: str = SESSION, **context: object) -> Request:
    return Request(principal, action, resource, context)


def test_no_policy_is_an_implicit_deny():
    decision = evaluate(get(), [])
    assert not decision.allowed
    assert decision.deny_kind == "implicit"
    assert decision.reason == "no identity-based policy allows"


def test_an_identity_allow_grants_and_is_reported():
    decision = evaluate(get(), [Policy(doc(allow(Sid="ReadObjects")), name="reader")])
    assert decision.allowed
    assert decision.reason == "allowed by reader ReadObjects"
    assert [(m.policy, m.sid, m.effect) for m in decision.matched] == [("reader", "ReadObjects", "Allow")]


def test_explicit_deny_in_another_policy_wins_over_allow():
    policies = [Policy(doc(allow()), name="reader"), Policy(doc(deny(Sid="NoReads")), name="guard")]
    decision = evaluate(get(), policies)
    assert not decision.allowed
    assert decision.deny_kind == "explicit"
    assert decision.reason == "explicit deny in guard NoReads"
    assert {m.effect for m in decision.matched} == {"Allow", "Deny"}


def test_explicit_deny_in_resource_policy_wins_over_identity_allow():
    bucket = doc(deny(Principal={"AWS": ROLE_ARN}))
    decision = evaluate(get(), [doc(allow())], bucket)
    assert not decision.allowed
    assert (decision.deny_kind, decision.policy_type) == ("explicit", "resource-based")


def test_not_action_allows_everything_but_the_listed_actions():
    policy = doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
    assert evaluate(get(), [policy]).allowed
    assert not evaluate(get("*", "iam:CreateRole"), [policy]).allowed


def test_not_action_with_deny_denies_everything_else():
    policies = [doc(allow("*", "*")), doc({"Effect": "Deny", "NotAction": "s3:Get*", "Resource": "*"})]
    assert evaluate(get(), policies).allowed
    assert not evaluate(get(action="s3:PutObject"), policies).allowed


def test_not_resource_with_deny_fences_one_bucket():
    policies = [doc(allow("s3:*", "*")), doc({"Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::b/*"})]
    assert evaluate(get(), policies).allowed
    assert not evaluate(get("arn:aws:s3:::c/k"), policies).allowed


@pytest.mark.parametrize(
    ("pattern", "action", "allowed"),
    [
        ("s3:Get*", "s3:GetObject", True),
        ("s3:Get*", "s3:GetObjectTagging", True),
        ("s3:Get*", "s3:PutObject", False),
        ("S3:getobject", "s3:GetObject", True),  # "The prefix and the action name are case insensitive"
        ("s3:GetObject", "S3:GETOBJECT", True),
        ("s3:GetObjec?", "s3:GetObject", True),
        ("s3:GetObjec?", "s3:GetObjects", False),
        ("*", "kms:Decrypt", True),
        ("sqs:*", "s3:GetObject", False),
    ],
)
def test_action_wildcards_and_case(pattern, action, allowed):
    assert evaluate(get(action=action), [doc(allow(pattern, "*"))]).allowed is allowed


@pytest.mark.parametrize(
    ("pattern", "resource", "allowed"),
    [
        ("arn:aws:s3:::b/*", "arn:aws:s3:::b/dir/k", True),  # * expands across "/" within the segment
        ("arn:aws:s3:::b/*", "arn:aws:s3:::c/k", False),
        ("arn:aws:s3:::B/*", "arn:aws:s3:::b/k", False),  # ARNs are case sensitive
        ("arn:aws:s3:::b/k?", "arn:aws:s3:::b/k1", True),
        ("arn:aws:s3:::b/k?", "arn:aws:s3:::b/k", False),
        ("arn:aws:s3:::b", "arn:aws:s3:::b/k", False),
        (f"arn:aws:sns:*:{ACCOUNT}:alerts", TOPIC, True),
        ("arn:aws:sns:*:alerts", TOPIC, False),  # a wildcard stays within its segment
        ("*", TOPIC, True),
        ("arn:aws:s3:::b/a+b(c)\\*", "arn:aws:s3:::b/a+b(c)\\d", True),  # regex characters are literal
        ("arn:aws:s3:::b/a.c", "arn:aws:s3:::b/abc", False),
    ],
)
def test_resource_wildcards(pattern, resource, allowed):
    assert evaluate(get(resource, action="s3:GetObject"), [doc(allow("s3:GetObject", pattern))]).allowed is allowed


def test_policy_variable_resolves_from_context_and_unknown_one_matches_nothing():
    policy = doc(allow("s3:GetObject", "arn:aws:s3:::b/${aws:username}/*"))
    assert evaluate(get("arn:aws:s3:::b/alice/k", **{"aws:username": "alice"}), [policy]).allowed
    assert not evaluate(get("arn:aws:s3:::b/bob/k", **{"aws:username": "alice"}), [policy]).allowed
    assert not evaluate(get("arn:aws:s3:::b/alice/k"), [policy]).allowed  # no value: no match, no crash


def test_policy_variables_are_literal_text_before_version_2012():
    policy = {"Version": "2008-10-17", "Statement": [allow("s3:GetObject", "arn:aws:s3:::b/${aws:username}")]}
    assert evaluate(get("arn:aws:s3:::b/${aws:username}", **{"aws:username": "alice"}), [policy]).allowed
    assert not evaluate(get("arn:aws:s3:::b/alice", **{"aws:username": "alice"}), [policy]).allowed


def test_bucket_policy_naming_the_role_alone_grants_its_sessions():
    bucket = doc(allow(Principal={"AWS": ROLE_ARN}))
    decision = evaluate(get(), [], bucket)
    assert decision.allowed
    assert decision.matched[0].policy_type == "resource-based"


def test_bucket_policy_naming_the_session_grants_it_but_not_other_roles():
    bucket = doc(allow(Principal={"AWS": [SESSION]}))
    assert evaluate(get(), [], bucket).allowed
    assert not evaluate(get(principal=OTHER_SESSION), [], bucket).allowed


def test_bucket_policy_naming_the_account_only_delegates_to_identity_policies():
    bucket = doc(allow(Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"}))
    assert not evaluate(get(), [], bucket).allowed
    assert not evaluate(get(), [], doc(allow(Principal={"AWS": ACCOUNT}))).allowed
    assert evaluate(get(), [doc(allow())], bucket).allowed


def test_kms_key_policy_delegating_to_root_needs_the_identity_policy_too():
    key_policy = doc(allow("kms:*", "*", Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"}))
    request = get(KEY, "kms:Decrypt")
    without = evaluate(request, [], key_policy)
    assert not without.allowed
    assert without.reason == "no identity-based policy allows"
    assert evaluate(request, [doc(allow("kms:Decrypt", KEY))], key_policy).allowed


def test_kms_key_policy_naming_nobody_denies_despite_identity_allow():
    key_policy = doc(allow("kms:*", "*", Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:role/KeyAdmin"}))
    decision = evaluate(get(KEY, "kms:Decrypt"), [doc(allow("kms:*", "*"))], key_policy)
    assert not decision.allowed
    assert decision.reason == "no key policy allows"
    assert decision.policy_type == "resource-based"


def test_kms_key_without_key_policy_is_denied():
    assert not evaluate(get(KEY, "kms:Decrypt"), [doc(allow("kms:*", "*"))]).allowed


def test_kms_key_policy_naming_the_role_grants_without_identity_policy():
    key_policy = doc(allow("kms:Decrypt", "*", Principal={"AWS": ROLE_ARN}))
    assert evaluate(get(KEY, "kms:Decrypt"), [], key_policy).allowed


def test_same_account_s3_object_is_not_subject_to_the_kms_rule():
    # the same identity Allow and a bucket policy that names nobody: S3 allows, where KMS would not
    bucket = doc(allow(Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:role/Other"}))
    assert evaluate(get(), [doc(allow())], bucket).allowed


SNS_KEY_POLICY = doc(
    allow("kms:*", "*", Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"}),
    allow(
        ["kms:Decrypt", "kms:GenerateDataKey*"],
        "*",
        Sid="AllowSNS",
        Principal={"Service": "sns.amazonaws.com"},
        Condition={
            "StringEquals": {"aws:SourceAccount": ACCOUNT},
            "ArnLike": {"aws:SourceArn": f"arn:aws:sns:*:{ACCOUNT}:alerts"},
        },
    ),
)


def test_service_principal_in_key_policy_with_source_conditions():
    context = {"aws:SourceArn": TOPIC, "aws:SourceAccount": ACCOUNT}
    decision = evaluate(Request("sns.amazonaws.com", "kms:GenerateDataKey", KEY, context), [], SNS_KEY_POLICY)
    assert decision.allowed
    assert decision.reason == "allowed by resource policy AllowSNS"


@pytest.mark.parametrize(
    "context",
    [
        {"aws:SourceArn": TOPIC, "aws:SourceAccount": OTHER_ACCOUNT},
        {"aws:SourceArn": f"arn:aws:sns:eu-west-1:{ACCOUNT}:other", "aws:SourceAccount": ACCOUNT},
        {"aws:SourceAccount": ACCOUNT},  # aws:SourceArn missing: the ArnLike is false
        {},
    ],
)
def test_service_principal_refused_when_source_conditions_fail(context):
    assert not evaluate(Request("sns.amazonaws.com", "kms:Decrypt", KEY, context), [], SNS_KEY_POLICY).allowed


def test_service_principal_statement_does_not_apply_to_a_role():
    context = {"aws:SourceArn": TOPIC, "aws:SourceAccount": ACCOUNT}
    assert not evaluate(Request(SESSION, "kms:Decrypt", KEY, context), [], SNS_KEY_POLICY).allowed


def test_other_service_principal_is_not_matched():
    context = {"aws:SourceArn": TOPIC, "aws:SourceAccount": ACCOUNT}
    assert not evaluate(Request("sqs.amazonaws.com", "kms:Decrypt", KEY, context), [], SNS_KEY_POLICY).allowed


def test_not_principal_deny_exempts_the_session_listed_with_its_role_and_account():
    listed = [SESSION, ROLE_ARN, f"arn:aws:iam::{ACCOUNT}:root"]
    bucket = doc(deny("s3:*", "arn:aws:s3:::b/*", NotPrincipal={"AWS": listed}))
    identity = [doc(allow())]
    assert evaluate(get(), identity, bucket).allowed
    assert not evaluate(get(principal=OTHER_SESSION), identity, bucket).allowed
    assert not evaluate(get(principal=f"arn:aws:sts::{ACCOUNT}:assumed-role/R/other-session"), identity, bucket).allowed


@pytest.mark.parametrize("listed", [[ROLE_ARN, f"arn:aws:iam::{ACCOUNT}:root"], [SESSION, ROLE_ARN], [SESSION]])
def test_not_principal_missing_a_link_of_the_chain_still_denies(listed):
    # "If the NotPrincipal element was missing the ARN of the role, the effect of the policy might be to
    # explicitly deny access to the role" (NotPrincipal); the strict reading is taken
    bucket = doc(deny("s3:*", "arn:aws:s3:::b/*", NotPrincipal={"AWS": listed}))
    assert not evaluate(get(), [doc(allow())], bucket).allowed


def test_cross_account_needs_both_sides():
    remote = f"arn:aws:sqs:eu-west-1:{OTHER_ACCOUNT}:q"
    request = get(remote, "sqs:SendMessage")
    identity = [doc(allow("sqs:SendMessage", remote))]
    queue_policy = doc(allow("sqs:SendMessage", remote, Principal={"AWS": ACCOUNT}))
    assert not evaluate(request, identity).allowed
    assert evaluate(request, [], queue_policy).reason == "no identity-based policy allows"
    assert evaluate(request, identity, queue_policy).allowed


def test_bucket_in_another_account_via_resource_account():
    request = Request(SESSION, "s3:GetObject", OBJECT, resource_account=OTHER_ACCOUNT)
    decision = evaluate(request, [doc(allow())])
    assert not decision.allowed
    assert decision.reason == "no resource-based policy allows"


def test_account_root_user_needs_no_policy_except_for_kms():
    root = f"arn:aws:iam::{ACCOUNT}:root"
    assert evaluate(get(principal=root), []).allowed
    assert not evaluate(get(KEY, "kms:Decrypt", principal=root), []).allowed


def test_aws_principal_arn_is_filled_with_the_role_arn():
    policy = doc(allow(Condition={"ArnEquals": {"aws:PrincipalArn": ROLE_ARN}}))
    assert evaluate(get(), [policy]).allowed
    assert not evaluate(get(principal=OTHER_SESSION), [policy]).allowed


@pytest.mark.parametrize(
    ("identity", "resource_policy"),
    [
        ([doc(allow(Condition={"StringEqualsWhatever": {"aws:SourceAccount": ACCOUNT}}))], None),
        ([doc(allow(Principal="*"))], None),
        ([doc({"Effect": "Allow", "Resource": "*"})], None),
        ([doc({"Effect": "Maybe", "Action": "*", "Resource": "*"})], None),
        ([], doc(allow())),  # resource-based statement without Principal
    ],
)
def test_documents_iam_would_reject_raise(identity, resource_policy):
    with pytest.raises(PolicyError):
        evaluate(get(), identity, resource_policy)


def test_single_statement_object_and_single_string_values():
    policy = {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": OBJECT}}
    assert evaluate(get(), [policy]).allowed
