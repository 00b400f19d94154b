"""The `local` target: the same Terraform, applied to the project's emulator on 127.0.0.1.

The production provider block is untouched: terraform and the S3 backend reach
the emulator through `AWS_ENDPOINT_URL` and test credentials in their
environment. `AWS_MAX_ATTEMPTS=2` turns an action the emulator lacks into an
error in seconds instead of minutes of retries.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..bootstrap import bootstrap_state_bucket
from ..config import Environment
from ..process import Runner
from ..runtime.apigateway import local_url_of
from .manager import CLIENT_ENV, Emulator, EmulatorInfo


class LocalTarget:
    def __init__(self, env: Environment, state_dir: Path, runner: Runner | None = None, start: bool = True):
        self.env = env
        self.emulator = Emulator(state_dir / "emulator", runner)
        self.start = start
        self.info: EmulatorInfo | None = None
        self.marker = state_dir / "envs" / env.name / "deployed.json"

    def ensure_ready(self) -> None:
        if self.info is None:
            self.info = self.emulator.start() if self.start else self.emulator.running()
            if self.info is None:
                from ..errors import VwtError

                raise VwtError("the local emulator is not running", "start it with `vwt-deploy local start` or `vwt-deploy up`")
        bootstrap_state_bucket(self.env, self.client("s3"))

    def client(self, service: str):
        import boto3

        assert self.info is not None
        return boto3.client(service, endpoint_url=self.info.url, region_name=self.env.region,
                            aws_access_key_id="test", aws_secret_access_key="test")

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
        return {**CLIENT_ENV, "AWS_ENDPOINT_URL": self.info.url, "AWS_REGION": self.env.region,
                "AWS_MAX_ATTEMPTS": "2", "AWS_EC2_METADATA_DISABLED": "true",
                "TF_CLI_ARGS_plan": parallel, "TF_CLI_ARGS_apply": parallel}

    def available(self) -> bool:
        return self.emulator.running() is not None

    # ---- what was deployed on which emulator boot: lost state is detected, not tripped over
    def on_applied(self, destroyed: bool, keep_running: bool = False) -> None:
        if destroyed:  # `down --env local`: nothing is left running (unless asked to keep the emulator)
            self.marker.unlink(missing_ok=True)
            if not keep_running:
                self.emulator.stop()
                self.info = None
            return
        assert self.info is not None
        self.marker.parent.mkdir(parents=True, exist_ok=True)
        self.marker.write_text(json.dumps({"boot_id": self.info.boot_id}))

    def state_lost(self) -> bool:
        """True when something was deployed on an emulator boot that is gone (its memory went with it)."""
        try:
            deployed = json.loads(self.marker.read_text())["boot_id"]
        except (OSError, ValueError, KeyError):
            return False
        return self.info is None or deployed != self.info.boot_id

    def api_url(self, outputs: dict[str, Any]) -> str:
        """Where clients reach the deployed API: its local address on the emulator."""
        if self.info is None:
            self.ensure_ready()
        assert self.info is not None
        return local_url_of(self.info.url, outputs.get("api_url") or "") or ""

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
        if self.marker.exists() and (state != "running" or self.state_lost()):
            out["warning"] = ("the emulator restarted or stopped since the last `up`: what was deployed is gone; "
                              "run `vwt-deploy up --env local` to rebuild it")
        return out
