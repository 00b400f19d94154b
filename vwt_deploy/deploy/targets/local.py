"""The `local` target: the same Terraform, applied to the project's emulator on 127.0.0.1.

The production provider block is untouched: terraform and the S3 backend reach
the emulator through `AWS_ENDPOINT_URL` and test credentials in their
environment. `AWS_MAX_ATTEMPTS=2` turns an action the emulator lacks into an
error in seconds instead of minutes of retries.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vwt_deploy.config import Environment
from vwt_deploy.deploy.bootstrap import bootstrap_state_bucket
from vwt_deploy.deploy.targets import session_keys
from vwt_deploy.emulator.manager import CLIENT_ENV, DEPLOYER_ACCESS_KEY, Emulator, EmulatorInfo
from vwt_deploy.emulator.runtime.apigateway import local_url_of
from vwt_deploy.errors import VwtError
from vwt_deploy.process import Runner

if TYPE_CHECKING:
    from vwt_deploy.build.image import BuildResult, ImageBuilder

LOCAL_IMAGE_MESSAGE = (
    "the local environment needs no image: its runtime runs the container's code "
    "(python -m vwt_model train|serve) directly; nothing built"
)


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
    ):
        self.env = env
        self.emulator = Emulator(state_dir / "emulator", runner, container_dir=container_dir)
        self.start = start
        self.info: EmulatorInfo | None = None
        self._marker = state_dir / "envs" / env.name / "deployed.json"

    def ensure_ready(self) -> None:
        if self.info is None:
            self.info = self.emulator.start() if self.start else self.emulator.running()
            if self.info is None:
                raise VwtError(
                    "the local emulator is not running", "start it with `vwt-deploy local start` or `vwt-deploy up`"
                )
            bootstrap_state_bucket(self.env, self.client("s3"))  # once per emulator this target reaches

    def available(self) -> bool:
        return self.emulator.running() is not None

    def bootstrap(self) -> None:
        self.ensure_ready()  # starts the emulator and creates the state bucket

    def client(self, service: str, credentials: Mapping[str, str] | None = None) -> Any:
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
        if self.info is None:
            self.ensure_ready()
        assert self.info is not None
        # the emulator answers in milliseconds: most of an apply is the provider's own waiting, so run more at once
        parallel = "-parallelism=32"
        return {
            **CLIENT_ENV,
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
        out: dict[str, Any] = {"target": "local emulator", "emulator": state}
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
