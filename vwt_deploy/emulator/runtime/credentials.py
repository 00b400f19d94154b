"""The credentials the runtime's principals act with: a session of their own role, issued by the emulator's STS.

On AWS a Lambda function, a state machine, a training job and an endpoint call other services with
temporary credentials of their role, which the service obtains by assuming it; the role's trust policy must
name the service ("IAM roles": "a trust policy ... defines which principals can assume the role"). Here the
runtime does the same through moto's STS backend, so every request they make carries an STS access key, and
the emulator's enforcement (`vwt_deploy.emulator.enforcement`) decides it for that role.

Session names follow what AWS shows in CloudTrail and in its access-denied messages: a Lambda function's
sessions are named after the function; SageMaker's are `SageMaker`; Step Functions' and EventBridge's carry
the service's name.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vwt_deploy.emulator.enforcement import Enforcer


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str
    role_arn: str
    session_arn: str

    def env(self) -> dict[str, str]:
        """The variables a child process's AWS SDK reads them from."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
        }

    def client_args(self) -> dict[str, str]:
        return {
            "aws_access_key_id": self.access_key_id,
            "aws_secret_access_key": self.secret_access_key,
            "aws_session_token": self.session_token,
        }


class UntrustedRole(Exception):
    """The service may not assume the role (its trust policy does not name the service)."""


class Sessions:
    """Role sessions, one per (role, session name), issued once and reused (AWS refreshes them; moto does not
    expire them). `enforcer` (None: IAM off) decides whether the service may assume the role."""

    def __init__(self, enforcer: Enforcer | None):
        self.enforcer = enforcer
        self._issued: dict[tuple[str, str], Credentials] = {}
        self._lock = threading.Lock()

    def assume(
        self, role_arn: str, session_name: str, service: str, context: dict[str, Any] | None = None
    ) -> Credentials:
        """Credentials of a session of `role_arn`, assumed by the service principal `service`
        (`lambda.amazonaws.com`), which sends `context` (`aws:SourceAccount`, `aws:SourceArn`). UntrustedRole when
        the role's trust policy does not allow it (and the enforcement is not off)."""
        self._check_trust(role_arn, service, context or {})
        key = (role_arn, session_name)
        with self._lock:
            if key not in self._issued:
                self._issued[key] = _issue(role_arn, session_name)
            return self._issued[key]

    def _check_trust(self, role_arn: str, service: str, context: dict[str, Any]) -> None:
        """The role's trust policy decides, as the enforcement decides any resource policy (recorded)."""
        refused = self.enforcer.service_may(service, "sts:AssumeRole", role_arn, context) if self.enforcer else None
        if refused:
            raise UntrustedRole(f"{service} may not assume {role_arn}: {refused}")


def _issue(role_arn: str, session_name: str) -> Credentials:
    from moto.sts.models import sts_backends

    account = role_arn.split(":")[4]
    partition = role_arn.split(":")[1]
    region = "us-east-1" if partition == "aws" else "cn-north-1" if partition == "aws-cn" else "us-gov-west-1"
    backend = sts_backends[account][partition]
    role = backend.assume_role(
        region_name=region,
        role_session_name=session_name,
        role_arn=role_arn,
        policy=None,
        duration=43200,
        external_id=None,
    )
    return Credentials(role.access_key_id, role.secret_access_key, role.session_token, role_arn, role.arn)
