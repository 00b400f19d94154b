"""Condition operators against the IAM User Guide's "IAM JSON policy elements: Condition operators" and
"Creating a condition with multiple keys or values"."""

from __future__ import annotations

import pytest

from tests.unit.emulator.iam.helpers import ACCOUNT, SESSION, allow, doc
from vwt_deploy.emulator.iam import PolicyError, Request, evaluate
from vwt_deploy.emulator.iam.conditions import condition_matches, normalise_context


def holds(block: dict, context: dict | None = None) -> bool:
    return condition_matches(block, normalise_context(context or {}), "2012-10-17")


@pytest.mark.parametrize(
    ("block", "context", "expected"),
    [
        ({"StringEquals": {"k": "Value"}}, {"k": "Value"}, True),
        ({"StringEquals": {"k": "Value"}}, {"k": "value"}, False),  # case sensitive
        ({"StringEqualsIgnoreCase": {"k": "Value"}}, {"k": "vALUE"}, True),
        ({"StringNotEqualsIgnoreCase": {"k": "Value"}}, {"k": "vALUE"}, False),
        ({"StringLike": {"k": "logs-*"}}, {"k": "logs-2024"}, True),
        ({"StringLike": {"k": "logs-?"}}, {"k": "logs-10"}, False),
        ({"StringNotLike": {"k": "logs-*"}}, {"k": "data"}, True),
        ({"StringEquals": {"k": ["a", "b"]}}, {"k": "b"}, True),  # values of one key are ORed
        # negated operators with several values: "the string cannot match any of the values"
        ({"StringNotEquals": {"k": ["a", "b"]}}, {"k": "b"}, False),
        ({"StringNotEquals": {"k": ["a", "b"]}}, {"k": "c"}, True),
    ],
)
def test_string_operators(block, context, expected):
    assert holds(block, context) is expected


def test_keys_and_operators_are_anded():
    block = {"StringEquals": {"a": "1", "b": "2"}, "Bool": {"aws:SecureTransport": "true"}}
    assert holds(block, {"a": "1", "b": "2", "aws:SecureTransport": True})
    assert not holds(block, {"a": "1", "b": "3", "aws:SecureTransport": True})
    assert not holds(block, {"a": "1", "b": "2", "aws:SecureTransport": False})


def test_condition_keys_are_case_insensitive():
    assert holds({"StringEquals": {"AWS:SourceAccount": ACCOUNT}}, {"aws:sourceaccount": ACCOUNT})


@pytest.mark.parametrize(
    ("operator", "expected"),
    [
        ("StringEquals", False),  # "the values do not match and the condition is false"
        ("StringLike", False),
        ("ArnLike", False),
        ("NumericLessThan", False),
        ("Bool", False),
        ("IpAddress", False),
        ("StringNotEquals", True),  # "requires that the key is not matched ... the condition is true"
        ("StringNotLike", True),
        ("ArnNotLike", True),
        ("NotIpAddress", True),
        ("StringEqualsIfExists", True),  # "If the key is not present, evaluate the condition element as true"
        ("StringNotEqualsIfExists", True),
        ("NumericLessThanIfExists", True),
        ("ForAnyValue:StringEquals", False),  # "For no matching key ... the condition returns false"
        ("ForAllValues:StringEquals", True),  # "returns true if there are no keys in the request"
        ("ForAnyValue:StringEqualsIfExists", True),
    ],
)
def test_missing_key(operator, expected):
    assert holds({operator: {"missing:key": "1"}}, {"other": "x"}) is expected


def test_if_exists_still_checks_a_present_key():
    assert holds({"StringLikeIfExists": {"ec2:InstanceType": "t2.*"}}, {"ec2:InstanceType": "t2.micro"})
    assert not holds({"StringLikeIfExists": {"ec2:InstanceType": "t2.*"}}, {"ec2:InstanceType": "m5.large"})


@pytest.mark.parametrize(
    ("value", "context", "expected"),
    [
        ("true", {}, True),  # true: the key does not exist
        ("true", {"aws:TokenIssueTime": "2024-01-01T00:00:00Z"}, False),
        ("false", {"aws:TokenIssueTime": "2024-01-01T00:00:00Z"}, True),  # false: the key exists
        ("false", {}, False),
    ],
)
def test_null(value, context, expected):
    assert holds({"Null": {"aws:TokenIssueTime": value}}, context) is expected


def test_null_with_if_exists_is_rejected():
    with pytest.raises(PolicyError):
        holds({"NullIfExists": {"k": "true"}})


@pytest.mark.parametrize(
    ("operator", "request_values", "expected"),
    [
        ("ForAllValues:StringEquals", ["a", "b"], True),
        ("ForAllValues:StringEquals", ["a", "z"], False),
        ("ForAllValues:StringEquals", [], True),  # empty data set: true
        ("ForAnyValue:StringEquals", ["z", "b"], True),
        ("ForAnyValue:StringEquals", ["y", "z"], False),
        ("ForAnyValue:StringEquals", [], False),  # empty data set: false
        ("ForAllValues:StringNotEquals", ["y", "z"], True),
        ("ForAllValues:StringNotEquals", ["a", "z"], False),
        ("ForAnyValue:StringNotEquals", ["a", "z"], True),
        ("ForAnyValue:StringLike", ["x-1", "other"], True),
    ],
)
def test_set_qualifiers(operator, request_values, expected):
    assert holds({operator: {"aws:TagKeys": ["a", "b", "c", "x-*"]}}, {"aws:TagKeys": request_values}) is expected


@pytest.mark.parametrize(
    ("operator", "value", "expected"),
    [
        ("NumericEquals", "10", True),
        ("NumericNotEquals", "10", False),
        ("NumericLessThan", "11", True),
        ("NumericLessThan", "10", False),
        ("NumericLessThanEquals", "10", True),
        ("NumericGreaterThan", "9.5", True),
        ("NumericGreaterThanEquals", "10", True),
        ("NumericGreaterThanEquals", "10.5", False),
        ("NumericEquals", "ten", False),  # not a number: no match
    ],
)
def test_numeric_operators(operator, value, expected):
    assert holds({operator: {"s3:max-keys": value}}, {"s3:max-keys": 10}) is expected


@pytest.mark.parametrize(
    ("operator", "value", "expected"),
    [
        ("DateGreaterThan", "2020-01-01T00:00:00Z", True),
        ("DateLessThan", "2020-01-01T00:00:00Z", False),
        ("DateEquals", "2021-06-01T12:00:00Z", True),
        ("DateNotEquals", "2021-06-01T12:00:00Z", False),
        ("DateGreaterThanEquals", "1622548800", True),  # epoch seconds of the same moment
        ("DateLessThanEquals", "not a date", False),
    ],
)
def test_date_operators(operator, value, expected):
    assert holds({operator: {"aws:CurrentTime": value}}, {"aws:CurrentTime": "2021-06-01T12:00:00Z"}) is expected


@pytest.mark.parametrize(
    ("value", "context", "expected"),
    [
        ("true", True, True),
        ("true", False, False),
        ("false", "false", True),
        ("TRUE", "true", True),
    ],
)
def test_bool(value, context, expected):
    assert holds({"Bool": {"aws:SecureTransport": value}}, {"aws:SecureTransport": context}) is expected


@pytest.mark.parametrize(
    ("operator", "ip", "expected"),
    [
        ("IpAddress", "203.0.113.7", True),
        ("IpAddress", "198.51.100.7", False),
        ("NotIpAddress", "198.51.100.7", True),
        ("NotIpAddress", "203.0.113.7", False),
        ("IpAddress", "2001:db8::1", False),  # another address family: no match
        ("IpAddress", "not-an-ip", False),
    ],
)
def test_ip_operators(operator, ip, expected):
    assert holds({operator: {"aws:SourceIp": ["203.0.113.0/24"]}}, {"aws:SourceIp": ip}) is expected


def test_arn_like_matches_component_by_component_unlike_string_like():
    # the doc's example: StringLike's * crosses colons, ArnLike's does not
    pattern = "arn:aws:someservice:*:111122223333:finance/*"
    value = "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt"
    assert holds({"StringLike": {"aws:SourceArn": pattern}}, {"aws:SourceArn": value})
    assert not holds({"ArnLike": {"aws:SourceArn": pattern}}, {"aws:SourceArn": value})
    assert holds({"ArnEquals": {"aws:SourceArn": pattern}}, {"aws:SourceArn": pattern.replace("*", "x")})
    assert holds({"ArnNotEquals": {"aws:SourceArn": pattern}}, {"aws:SourceArn": value})


def test_policy_variable_in_condition_values():
    block = {"StringEquals": {"s3:prefix": "home/${aws:username}"}}
    assert holds(block, {"s3:prefix": "home/alice", "aws:username": "alice"})
    assert not holds(block, {"s3:prefix": "home/alice", "aws:username": "bob"})
    # a variable with no value: positive operators do not match, negated ones do
    assert not holds(block, {"s3:prefix": "home/alice"})
    assert holds({"StringNotEquals": {"s3:prefix": "home/${aws:username}"}}, {"s3:prefix": "home/alice"})


def test_policy_variable_default_and_special_characters():
    assert holds({"StringEquals": {"k": "${aws:PrincipalTag/team, 'none'}"}}, {"k": "none"})
    assert holds({"StringLike": {"k": "a${*}b"}}, {"k": "a*b"})
    assert not holds({"StringLike": {"k": "a${*}b"}}, {"k": "axxb"})


@pytest.mark.parametrize("operator", ["StringSortOf", "ForSomeValues:StringEquals"])
def test_unknown_operators_are_rejected(operator):
    with pytest.raises(PolicyError):
        holds({operator: {"k": "v"}}, {"k": "v"})


def test_condition_decides_an_allow_end_to_end():
    policy = doc(allow(Condition={"Bool": {"aws:SecureTransport": "true"}}))
    secure = Request(SESSION, "s3:GetObject", "arn:aws:s3:::b/k", {"aws:SecureTransport": True})
    assert evaluate(secure, [policy]).allowed
    assert not evaluate(Request(SESSION, "s3:GetObject", "arn:aws:s3:::b/k", {}), [policy]).allowed


def test_deny_with_negated_operator_and_missing_key_denies():
    # Deny + StringNotEquals on an absent key: the condition is true, so the Deny applies
    policies = [
        doc(allow()),
        doc(
            {
                "Effect": "Deny",
                "Action": "*",
                "Resource": "*",
                "Condition": {"StringNotEquals": {"aws:RequestedRegion": "eu-west-1"}},
            }
        ),
    ]
    assert not evaluate(Request(SESSION, "s3:GetObject", "arn:aws:s3:::b/k", {}), policies).allowed
    context = {"aws:RequestedRegion": "eu-west-1"}
    assert evaluate(Request(SESSION, "s3:GetObject", "arn:aws:s3:::b/k", context), policies).allowed


def test_unqualified_operator_on_a_multivalued_key_matches_any_value():
    # not documented by AWS (its policy checker warns against it); this library's chosen behaviour
    assert holds({"StringEquals": {"aws:TagKeys": "a"}}, {"aws:TagKeys": ["a", "z"]})
    assert not holds({"StringNotEquals": {"aws:TagKeys": "a"}}, {"aws:TagKeys": ["a", "z"]})
