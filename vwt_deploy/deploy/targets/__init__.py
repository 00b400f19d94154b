"""Where an environment's resources live: the `Target` protocol, and the target of each environment.

`AwsTarget` (dev, staging, prod: a real account, behind the account guard) and `LocalTarget` (the
project's emulator on 127.0.0.1). Everything that differs between the two is a member of the protocol,
so no caller asks which one it has.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from vwt_deploy.config import Environment
from vwt_deploy.contract import IMAGE_CONTEXT
from vwt_deploy.process import Runner
from vwt_deploy.project import Project

if TYPE_CHECKING:
    from vwt_deploy.build.image import BuildResult, ImageBuilder


class Target(Protocol):
    """Where an environment's resources live, and what differs between AWS and the emulator."""

    #: `up` builds and pushes the image to the environment's ECR (and so creates the registry first)
    publishes_image: bool
    #: `down` refuses while data or model buckets hold objects, and lifts the destroy guard
    guards_data: bool
    #: nothing else fires the EventBridge schedules, so `local tick` does
    fires_schedules: bool

    def ensure_ready(self) -> None:
        """Make the target usable (the account guard; the emulator started) or raise VwtError."""

    def available(self) -> bool:
        """Whether the target can be asked anything without starting it (a stopped emulator cannot)."""

    def bootstrap(self) -> None:
        """Create the environment's Terraform state bucket."""

    def backend_config(self) -> dict[str, Any]: ...

    def terraform_env(self) -> dict[str, str]: ...

    def client(self, service: str, credentials: Mapping[str, str] | None = None) -> Any:
        """A boto3 client of the target: as the deployer, or with STS `credentials` (AssumeRole's Credentials)."""

    def publish_image(self, builder: ImageBuilder) -> BuildResult:
        """Build and push the image where the target runs it (the emulator runs the code itself)."""

    def on_applied(self, destroyed: bool, keep_running: bool = False) -> None:
        """Called after an apply (or a destroy) changed something."""

    def state_lost(self) -> bool:
        """Whether what was deployed is gone without a destroy (the emulator restarted)."""

    def deployed_at(self) -> dt.datetime | None:
        """When the last `up` that changed something finished, where the target records it."""

    def api_url(self, outputs: dict[str, Any]) -> str:
        """Where clients reach the deployed prediction API."""

    def confirm_name(self) -> str | None:
        """What a user must type to confirm a destroy (None: a yes/no question is enough)."""

    def next_steps(self, outputs: dict[str, Any]) -> list[str]:
        """What to try after an `up`."""

    def describe(self, outputs: dict[str, Any] | None = None) -> dict[str, Any]:
        """What `status` shows of the target itself."""


def session_keys(credentials: Mapping[str, str] | None) -> dict[str, str]:
    """boto3's client arguments of STS credentials (AssumeRole's `Credentials`); none for the caller's own."""
    if not credentials:
        return {}
    return {
        "aws_access_key_id": credentials["AccessKeyId"],
        "aws_secret_access_key": credentials["SecretAccessKey"],
        "aws_session_token": credentials["SessionToken"],
    }


def assumed_client(target: Target, service: str, role_arn: str, session: str) -> Any:
    """A client of `target` acting as a session of `role_arn` (as a service assuming the role would)."""
    answer = target.client("sts").assume_role(RoleArn=role_arn, RoleSessionName=session)
    return target.client(service, answer["Credentials"])


def target_for(project: Project, env: Environment, runner: Runner | None = None) -> Target:
    """The target of an environment: the emulator for `local`, AWS for the others."""
    if env.is_local:
        from vwt_deploy.deploy.targets.local import LocalTarget

        return LocalTarget(env, project.state_dir, runner, container_dir=project.containers_dir / IMAGE_CONTEXT)
    from vwt_deploy.deploy.targets.aws import AwsTarget

    return AwsTarget(env)
