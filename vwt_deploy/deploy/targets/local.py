"""The `local` target: the same Terraform, applied to the project's emulator on 127.0.0.1.

The production provider block is untouched: terraform and the S3 backend reach
the emulator through `AWS_ENDPOINT_URL` and test credentials in their
environment. `AWS_MAX_ATTEMPTS=2` turns an action the emulator lacks into an
error in seconds instead of minutes of retries.

Who acts (`VWT_LOCAL_PRINCIPAL`): by default the account's administrator (the deployer's key, whose calls the
emulator records for the deploy role's policy). With `deploy-role`, every command acts as the environment's deploy
role, as the shipped pipelines do on AWS: the target gets a GitHub Actions token from the emulator for the
environment's repository and GitHub Environment (the `sub` claim), exchanges it with AssumeRoleWithWebIdentity
(the emulator checks the token, the OIDC provider and the role's trust policy), and Terraform and the CLI use
that session, so IAM decides each of their calls with the role's policy. `vwt-deploy bootstrap` still acts as the
administrator: it makes the role.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vwt_deploy.config import Environment
from vwt_deploy.deploy.bootstrap import bootstrap_state_bucket
from vwt_deploy.deploy.targets import session_keys
from vwt_deploy.emulator.manager import CLIENT_ENV, DEPLOYER_ACCESS_KEY, Emulator, EmulatorInfo
from vwt_deploy.emulator.runtime.apigateway import local_url_of
from vwt_deploy.errors import ConfigError, VwtError
from vwt_deploy.process import Runner

if TYPE_CHECKING:
    from vwt_deploy.build.image import BuildResult, ImageBuilder

LOCAL_IMAGE_MESSAGE = (
    "the local environment needs no image: its runtime runs the container's code "
    "(python -m vwt_model train|serve) directly; nothing built"
)
PRINCIPAL_ENV = "VWT_LOCAL_PRINCIPAL"
ADMINISTRATOR, DEPLOY_ROLE = "administrator", "deploy-role"
#: the session name aws-actions/configure-aws-credentials gives by default, so local denials read as CI's would
SESSION_NAME = "GitHubActions"


def principal_from(environ: Mapping[str, str]) -> str:
    """Who the local target acts as, from `VWT_LOCAL_PRINCIPAL` (default: the administrator)."""
    value = (environ.get(PRINCIPAL_ENV) or ADMINISTRATOR).strip().lower()
    if value not in (ADMINISTRATOR, DEPLOY_ROLE):
        raise ConfigError(
            f"{PRINCIPAL_ENV}={environ.get(PRINCIPAL_ENV)!r} names no principal",
            f"use {ADMINISTRATOR} (the default) or {DEPLOY_ROLE} (the environment's deploy role, as CI acts)",
        )
    return value


class LocalTarget:
    """The project's emulator (started on demand); what was deployed on which emulator boot is recorded."""

    publishes_image = False
    guards_data = False  # local data is synthetic: `down` destroys it with everything else
    fires_schedules = True  # moto never fires EventBridge schedules: `local tick` does

    def __init__(
        self,
        env: Environment,
        state_dir: Path,
        runner: Runner | None = None,
        start: bool = True,
        container_dir: Path | None = None,
        principal: str | None = None,
    ):
        self.env = env
        self.emulator = Emulator(state_dir / "emulator", runner, container_dir=container_dir)
        self.start = start
        self.principal = principal or principal_from(os.environ)
        self.info: EmulatorInfo | None = None
        self._session: Mapping[str, str] | None = None  # the deploy role's credentials, when it acts as the role
        self._marker = state_dir / "envs" / env.name / "deployed.json"

    def ensure_ready(self) -> None:
        self._reach()
        if self.principal == DEPLOY_ROLE and self._session is None:
            self._session = self._assume_deploy_role()

    def _reach(self) -> None:
        """Start (or find) the emulator, and make the state bucket as the administrator (bootstrap's part)."""
        if self.info is None:
            self.info = self.emulator.start() if self.start else self.emulator.running()
            if self.info is None:
                raise VwtError(
                    "the local emulator is not running", "start it with `vwt-deploy local start` or `vwt-deploy up`"
                )
            bootstrap_state_bucket(self.env, self._client(service="s3"))  # once per emulator this target reaches

    def _assume_deploy_role(self) -> Mapping[str, str]:
        """The deploy role's session, as GitHub Actions gets it: a token for the environment's `sub`, exchanged
        with AssumeRoleWithWebIdentity. One message naming `bootstrap` when the role or the provider is missing."""
        from botocore.exceptions import ClientError

        from vwt_deploy.deploy.deployrole import require_bootstrapped, subject

        account = self._client(service="sts").get_caller_identity()["Account"]
        require_bootstrapped(self.env, self._client(service="iam"), account)
        role_arn = f"arn:aws:iam::{account}:role/{self.env.deploy_role_name}"
        token = self.emulator.token(subject(self.env))
        try:
            answer = self._client(service="sts").assume_role_with_web_identity(
                RoleArn=role_arn, RoleSessionName=SESSION_NAME, WebIdentityToken=token, DurationSeconds=3600
            )
        except ClientError as exc:
            raise VwtError(
                f"the local STS refused the deploy role {role_arn} to {subject(self.env)}: {exc}",
                f"make it again with `vwt-deploy bootstrap --env {self.env.name}` (it writes the role's trust)",
            ) from exc
        return dict(answer["Credentials"])

    def available(self) -> bool:
        return self.emulator.running() is not None

    def bootstrap(self) -> None:
        self._reach()  # starts the emulator and creates the state bucket; bootstrap acts as the administrator

    def client(self, service: str, credentials: Mapping[str, str] | None = None) -> Any:
        """A client acting as `credentials`, else as whom the target acts (the deploy role's session once
        `ensure_ready` assumed it, else the administrator)."""
        return self._client(service, credentials or self._session)

    def _client(self, service: str, credentials: Mapping[str, str] | None = None) -> Any:
        import boto3

        assert self.info is not None
        keys = (
            session_keys(credentials)
            if credentials
            else {"aws_access_key_id": DEPLOYER_ACCESS_KEY, "aws_secret_access_key": "test"}
        )
        return boto3.client(service, endpoint_url=self.info.url, region_name=self.env.region, **keys)

    def backend_config(self) -> dict[str, Any]:
        return {
            "bucket": self.env.state_bucket_name,
            "key": self.env.state.key,
            "region": self.env.region,
            "encrypt": True,
            "use_lockfile": True,
            "use_path_style": True,
            "skip_credentials_validation": True,
            "skip_requesting_account_id": True,
            "skip_metadata_api_check": True,
            "skip_region_validation": True,
        }

    def terraform_env(self) -> dict[str, str]:
        self.ensure_ready()
        assert self.info is not None
        # the emulator answers in milliseconds: most of an apply is the provider's own waiting, so run more at once
        parallel = "-parallelism=32"
        acting = (
            {
                "AWS_ACCESS_KEY_ID": self._session["AccessKeyId"],
                "AWS_SECRET_ACCESS_KEY": self._session["SecretAccessKey"],
                "AWS_SESSION_TOKEN": self._session["SessionToken"],
            }
            if self._session
            else {}
        )
        return {
            **CLIENT_ENV,
            **acting,
            "AWS_ENDPOINT_URL": self.info.url,
            "AWS_REGION": self.env.region,
            "AWS_MAX_ATTEMPTS": "2",
            "AWS_EC2_METADATA_DISABLED": "true",
            "TF_CLI_ARGS_plan": parallel,
            "TF_CLI_ARGS_apply": parallel,
        }

    def publish_image(self, builder: ImageBuilder) -> BuildResult:
        return builder.skipped(LOCAL_IMAGE_MESSAGE)

    # ---- what was deployed on which emulator boot: lost state is detected, not tripped over
    def on_applied(self, destroyed: bool, keep_running: bool = False) -> None:
        if destroyed:  # `down --env local`: nothing is left running (unless asked to keep the emulator)
            self._marker.unlink(missing_ok=True)
            if not keep_running:
                self.emulator.stop()
                self.info = None
            return
        assert self.info is not None
        self._marker.parent.mkdir(parents=True, exist_ok=True)
        self._marker.write_text(json.dumps({"boot_id": self.info.boot_id}))

    def state_lost(self) -> bool:
        """True when something was deployed on an emulator boot that is gone (its memory went with it)."""
        try:
            deployed = json.loads(self._marker.read_text())["boot_id"]
        except (OSError, ValueError, KeyError):
            return False
        return self.info is None or deployed != self.info.boot_id

    def deployed_at(self) -> dt.datetime | None:
        """When the last `up` that applied changes finished (the marker it writes)."""
        try:
            return dt.datetime.fromtimestamp(self._marker.stat().st_mtime, dt.timezone.utc)
        except OSError:
            return None

    def api_url(self, outputs: dict[str, Any]) -> str:
        """The deployed API's local address on the emulator."""
        if self.info is None:
            self.ensure_ready()
        assert self.info is not None
        return local_url_of(self.info.url, outputs.get("api_url") or "") or ""

    def confirm_name(self) -> str | None:
        return None

    def next_steps(self, outputs: dict[str, Any]) -> list[str]:
        if not outputs.get("api_url"):
            return []
        model = self.env.catalogue.models[0].name
        return [
            f"try it: vwt-deploy data sample && vwt-deploy retrain --model {model} --wait "
            f"&& vwt-deploy predict --model {model} --sample 5"
        ]

    def describe(self, outputs: dict[str, Any] | None = None) -> dict[str, Any]:
        """The emulator's state, and the local address of the deployed API (from the `api_url` output)."""
        state, info = self.emulator.status()
        out: dict[str, Any] = {"target": "local emulator", "emulator": state, "acting_as": self.principal}
        if info:
            out["emulator_url"] = info.url
            out["emulator_pid"] = info.pid
            local_api = local_url_of(info.url, (outputs or {}).get("api_url") or "")
            if local_api:
                out["local_api_url"] = local_api
        out["emulator_log"] = str(self.emulator.log)
        if self._marker.exists() and (state != "running" or self.state_lost()):
            out["warning"] = (
                "the emulator restarted or stopped since the last `up`: what was deployed is gone; "
                "run `vwt-deploy up --env local` to rebuild it"
            )
        return out
