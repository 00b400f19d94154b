"""AWS's access denied messages, word for word (IAM User Guide, "Troubleshoot access denied error messages")."""

from __future__ import annotations

from tests.unit.emulator.iam.helpers import (
    ACCOUNT,
    KEY,
    OBJECT,
    SESSION,
    allow,
    deny,
    doc,
)
from vwt_deploy.emulator.iam import Policy, Request, denial_message, evaluate

PREFIX = f"User: {SESSION} is not authorized to perform: "


def test_implicit_deny_by_identity_policies():
    decision = evaluate(Request(SESSION, "s3:GetObject", OBJECT), [])
    assert decision.message == (
        "User: arn:aws:sts::123456789012:assumed-role/R/S is not authorized to perform: s3:GetObject on resource: "
        "arn:aws:s3:::b/k because no identity-based policy allows the s3:GetObject action"
    )


def test_explicit_deny_in_identity_policy():
    decision = evaluate(Request(SESSION, "s3:GetObject", OBJECT), [doc(allow()), doc(deny())])
    assert decision.message == (
        PREFIX + "s3:GetObject on resource: arn:aws:s3:::b/k with an explicit deny in an identity-based policy"
    )


def test_explicit_deny_in_resource_policy():
    bucket = doc(deny(Principal="*"))
    decision = evaluate(Request(SESSION, "s3:GetObject", OBJECT), [doc(allow())], bucket)
    assert decision.message == (
        PREFIX + "s3:GetObject on resource: arn:aws:s3:::b/k with an explicit deny in a resource-based policy"
    )


def test_kms_key_policy_that_does_not_allow():
    key_policy = doc(allow("kms:*", "*", Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:role/Admin"}))
    decision = evaluate(Request(SESSION, "kms:Decrypt", KEY), [doc(allow("kms:*", "*"))], key_policy)
    assert decision.message == (
        PREFIX + f"kms:Decrypt on resource: {KEY} because no resource-based policy allows the kms:Decrypt action"
    )


def test_kms_key_policy_that_delegates_but_no_identity_allow():
    key_policy = doc(allow("kms:*", "*", Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"}))
    decision = evaluate(Request(SESSION, "kms:Decrypt", KEY), [], key_policy)
    assert decision.message == (
        PREFIX + f"kms:Decrypt on resource: {KEY} because no identity-based policy allows the kms:Decrypt action"
    )


def test_action_without_resource_leaves_out_on_resource():
    decision = evaluate(Request(SESSION, "s3:ListAllMyBuckets", "*"), [])
    assert (
        decision.message == PREFIX + "s3:ListAllMyBuckets because no identity-based policy allows the "
        "s3:ListAllMyBuckets action"
    )


def test_policy_arn_is_added_on_request():
    managed = Policy(doc(deny()), name="Guard", arn=f"arn:aws:iam::{ACCOUNT}:policy/Guard")
    decision = evaluate(Request(SESSION, "s3:GetObject", OBJECT), [managed])
    assert decision.message is not None
    assert not decision.message.endswith("policy/Guard")
    assert denial_message(decision, include_policy_arn=True).endswith(
        f"with an explicit deny in an identity-based policy: arn:aws:iam::{ACCOUNT}:policy/Guard"
    )


def test_allowed_has_no_message():
    assert evaluate(Request(SESSION, "s3:GetObject", OBJECT), [doc(allow())]).message is None
