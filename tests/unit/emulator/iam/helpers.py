"""Shared names and small policy builders for the IAM evaluator tests."""

from __future__ import annotations

from typing import Any

ACCOUNT = "123456789012"
OTHER_ACCOUNT = "210987654321"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/R"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/R/S"
OTHER_SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/Other/S"
OBJECT = "arn:aws:s3:::b/k"
KEY = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TOPIC = f"arn:aws:sns:eu-west-1:{ACCOUNT}:alerts"


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    """A policy document (language version 2012-10-17) of `statements`."""
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any = "s3:GetObject", resource: Any = OBJECT, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any = "s3:GetObject", resource: Any = OBJECT, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}
