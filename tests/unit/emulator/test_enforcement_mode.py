"""The enforcement's mode setting and its record of decisions (the request path is tested through the emulator)."""

from __future__ import annotations

import json

import pytest

from vwt_deploy.emulator.enforcement import Mode, Recorder
from vwt_deploy.emulator.iam.policy import Policy, Request, evaluate


@pytest.mark.parametrize(
    ("value", "mode"), [(None, Mode.ENFORCE), ("", Mode.ENFORCE), ("Soft", Mode.SOFT), ("off", Mode.OFF)]
)
def test_the_mode_defaults_to_enforce(value, mode):
    assert Mode.parse(value) is mode


def test_an_unknown_mode_names_the_choices():
    with pytest.raises(ValueError, match="VWT_LOCAL_IAM='permissive' is not a mode; use one of enforce, soft, off"):
        Mode.parse("permissive")


def test_the_recorder_counts_pairs_and_streams_each_denial(tmp_path):
    policy = Policy(
        {
            "Version": "2012-10-17",
            "Statement": [{"Sid": "Get", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
        },
        "r/p",
    )
    session = "arn:aws:sts::123456789012:assumed-role/r/s"
    recorder = Recorder(tmp_path)
    for action in ("s3:GetObject", "s3:GetObject", "s3:PutObject"):
        recorder.record(
            "arn:aws:iam::123456789012:role/r",
            evaluate(Request(session, action, "arn:aws:s3:::b/k"), [policy]),
            Mode.ENFORCE,
        )
    entries = {e["action"]: e for e in recorder.snapshot()["arn:aws:iam::123456789012:role/r"]}
    assert (entries["s3:GetObject"]["allowed"], entries["s3:GetObject"]["granted_by"]) == (2, ["r/p Get"])
    assert entries["s3:PutObject"]["denied"] == 1
    (denial,) = [json.loads(line) for line in (tmp_path / "denials.jsonl").read_text().splitlines()]
    assert denial["mode"] == "enforce" and denial["message"].startswith(f"User: {session} is not authorized")
    assert json.loads((tmp_path / "access.json").read_text()).keys() == {"arn:aws:iam::123456789012:role/r"}


@pytest.mark.parametrize(
    ("method", "headers", "body", "writes"),
    [
        ("POST", {"content-type": "application/x-www-form-urlencoded"}, b"Action=ListRolePolicies&RoleName=r", False),
        ("POST", {"content-type": "application/x-www-form-urlencoded"}, b"Action=GetTopicAttributes&TopicArn=t", False),
        ("POST", {"content-type": "application/x-www-form-urlencoded"}, b"Action=PutRolePolicy&RoleName=r", True),
        (
            "POST",
            {"content-type": "application/x-amz-json-1.1", "x-amz-target": "TrentService.GetKeyPolicy"},
            b"{}",
            False,
        ),
        (
            "POST",
            {"content-type": "application/x-amz-json-1.1", "x-amz-target": "TrentService.PutKeyPolicy"},
            b"{}",
            True,
        ),
        ("GET", {}, b"", False),
        ("PUT", {}, b"", True),
        ("POST", {"content-type": "application/x-www-form-urlencoded"}, b"Action=Publish&TopicArn=t", False),
        ("POST", {"content-type": "application/x-www-form-urlencoded"}, b"Action=SetTopicAttributes", True),
        ("POST", {"content-type": "application/x-amz-json-1.0", "x-amz-target": "AmazonSQS.SendMessage"}, b"{}", False),
    ],
)
def test_only_a_write_that_may_change_a_policy_drops_the_policies_read(method, headers, body, writes):
    """IAM and SNS POST their reads too, and messages are writes of data: the cache of policies survives them (else
    every check re-reads)."""
    import io

    from vwt_deploy.emulator.enforcement import _may_write

    environ = {"REQUEST_METHOD": method, "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body)}
    assert _may_write(environ, headers, "iam") is writes
    assert environ["wsgi.input"].read() == body  # put back for moto


@pytest.mark.parametrize(
    ("service", "path", "writes"),
    [
        ("s3", "/vwt-local-models/model.tar.gz", False),  # an object
        ("s3", "/vwt-local-models", True),  # the bucket (its policy, encryption, ...)
        ("lambda", "/2015-03-31/functions/vwt-local-predict/invocations", False),
        ("lambda", "/2015-03-31/functions/vwt-local-predict/policy", True),  # AddPermission
    ],
)
def test_objects_and_invocations_keep_the_policies_read(service, path, writes):
    """The runtime's roles write objects and invoke functions all day; a bucket or function write may change its
    policy (the deploy role's Terraform: its roles' trust, its buckets' policies)."""
    import io

    from vwt_deploy.emulator.enforcement import _may_write

    environ = {"REQUEST_METHOD": "PUT" if service == "s3" else "POST", "PATH_INFO": path, "wsgi.input": io.BytesIO()}
    assert _may_write(environ, {}, service) is writes
