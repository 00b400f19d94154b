"""The AWS target (dev, staging, prod): refuse any account but the environment's, before anything else runs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from vwt_deploy.config import Environment
from vwt_deploy.deploy.bootstrap import bootstrap_state_bucket
from vwt_deploy.deploy.targets import session_keys
from vwt_deploy.errors import VwtError

if TYPE_CHECKING:
    from vwt_deploy.build.image import BuildResult, ImageBuilder


class AwsTarget:
    """A real AWS account, behind the account guard."""

    publishes_image = True
    guards_data = True
    fires_schedules = False  # EventBridge fires them

    def __init__(self, env: Environment, sts_client_factory: Callable[[], Any] | None = None):
        self.env = env
        self._sts = sts_client_factory
        self.account: str | None = None

    def _sts_client(self) -> Any:
        if self._sts:
            return self._sts()
        return self.client("sts")

    def ensure_ready(self) -> None:
        if self.account:
            return
        try:
            identity = self._sts_client().get_caller_identity()
        except Exception as exc:  # botocore raises many kinds; all mean "no usable credentials"
            raise VwtError(
                f"cannot reach AWS to check the account for {self.env.name}: {exc}",
                "configure credentials for the environment's account (AWS_PROFILE or aws sso login) and try again",
            ) from None
        account = identity["Account"]
        if account not in self.env.allowed_account_ids:
            raise VwtError(
                f"refusing to touch AWS account {account}: environment {self.env.name} allows only "
                f"{', '.join(self.env.allowed_account_ids)}",
                "switch to the environment's credentials (AWS_PROFILE), or fix allowed_account_ids",
            )
        self.account = account

    def available(self) -> bool:
        return True

    def bootstrap(self) -> None:
        import boto3  # lazy: keeps `vwt-deploy --help` fast

        self.ensure_ready()
        bootstrap_state_bucket(self.env, boto3.client("s3", region_name=self.env.state.region or self.env.region))

    def client(self, service: str, credentials: Mapping[str, str] | None = None) -> Any:
        import boto3

        return boto3.client(service, region_name=self.env.region, **session_keys(credentials))

    def backend_config(self) -> dict[str, Any]:
        return {
            "bucket": self.env.state_bucket_name,
            "key": self.env.state.key,
            "region": self.env.state.region or self.env.region,
            "encrypt": True,
            "use_lockfile": True,
        }

    def terraform_env(self) -> dict[str, str]:
        return {}

    def publish_image(self, builder: ImageBuilder) -> BuildResult:
        return builder.build()

    def on_applied(self, destroyed: bool, keep_running: bool = False) -> None:
        pass

    def state_lost(self) -> bool:
        return False  # the account keeps what was deployed

    def deployed_at(self) -> dt.datetime | None:
        return None

    def api_url(self, outputs: dict[str, Any]) -> str:
        """The deployed API's invoke URL."""
        return outputs.get("api_url") or ""

    def confirm_name(self) -> str | None:
        return self.env.name

    def next_steps(self, outputs: dict[str, Any]) -> list[str]:
        return []

    def describe(self, outputs: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"target": "aws", "account": self.account, "region": self.env.region}
