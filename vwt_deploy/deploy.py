"""The deployment pipeline: prepare (guard, variables, init) -> plan -> apply, for one environment.

`plan` is the same pipeline as `up` with nothing applied. Targets say where the
Terraform goes: `AwsTarget` for dev/staging/prod (with the account guard), the
local emulator for `local`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol

from .config import Environment
from .errors import ProcessError, VwtError
from .process import Runner
from .project import Project
from .terraform import PlanSummary, Terraform, is_lock_error
from .tfvars import write_tfvars


class Target(Protocol):
    """Where an environment's resources live."""

    def ensure_ready(self) -> None: ...

    def backend_config(self) -> dict[str, Any]: ...

    def terraform_env(self) -> dict[str, str]: ...

    def describe(self, outputs: dict[str, Any] | None = None) -> dict[str, Any]: ...

    def client(self, service: str) -> Any: ...

    def on_applied(self, destroyed: bool, keep_running: bool = False) -> None: ...

    def available(self) -> bool: ...


class AwsTarget:
    """A real AWS account: refuse any account but the environment's, before anything else runs."""

    def __init__(self, env: Environment, sts_client_factory: Callable[[], Any] | None = None):
        self.env = env
        self._sts = sts_client_factory
        self.account: str | None = None

    def _client(self):
        if self._sts:
            return self._sts()
        import boto3  # lazy: keeps `vwt-deploy --help` fast

        return boto3.client("sts", region_name=self.env.region)

    def api_url(self, outputs: dict[str, Any]) -> str:
        """Where clients reach the deployed API: its invoke URL."""
        return outputs.get("api_url") or ""

    def ensure_ready(self) -> None:
        if self.account:
            return
        try:
            identity = self._client().get_caller_identity()
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

    def client(self, service: str):
        import boto3

        return boto3.client(service, region_name=self.env.region)

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

    def describe(self, outputs: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"target": "aws", "account": self.account, "region": self.env.region}

    def on_applied(self, destroyed: bool, keep_running: bool = False) -> None:
        pass

    def available(self) -> bool:
        return True


@dataclass(frozen=True)
class UpResult:
    plan: PlanSummary
    applied: bool
    outputs: Mapping[str, Any]


class Deployment:
    """One environment of one project. Holds no global state; tests build it with a fake runner and target."""

    def __init__(self, project: Project, env: Environment, runner: Runner | None = None,
                 target: Target | None = None, echo: Callable[[str], None] = print):
        self.project = project
        self.env = env
        self.runner = runner or Runner()
        self._target = target
        self.echo = echo
        self.work = project.env_dir(env.name)

    @cached_property
    def target(self) -> Target:
        if self._target is not None:
            return self._target
        if self.env.is_local:
            from .emulator.target import LocalTarget

            return LocalTarget(self.env, self.project.state_dir, self.runner)
        return AwsTarget(self.env)

    @cached_property
    def terraform(self) -> Terraform:
        env = {**self.project.terraform_env(), **self.target.terraform_env()}
        return Terraform(self.project.terraform_root, self.work / "tfdata", self.runner, env)

    @property
    def var_file(self) -> Path:
        return self.work / "terraform.tfvars.json"

    # ---- pipeline steps
    def image_builder(self):
        from .image import ImageBuilder

        return ImageBuilder(self.project, self.env, self.runner, guard=self.target.ensure_ready, echo=self.echo)

    def artifacts(self, build_image: bool = False) -> dict[str, Any]:
        """What the tool builds before Terraform runs; each step writes its files under .vwt/envs/<env>/ and
        returns the variables that name them. Deterministic: the same configuration writes the same bytes.
        The image is tagged with its content hash; it is built and pushed only by `up` of an AWS environment."""
        from . import openapi, package, render
        from .image import initial_models, model_schemas

        openapi.write(self.project, self.env)  # the API contract for client teams, beside the definitions
        builder = self.image_builder()
        tag = builder.build().tag if build_image and not self.env.is_local else builder.tag
        return {**render.artifacts(self.project, self.env), **package.artifacts(self.project, self.env),
                "image_tag": tag, "initial_model_artifacts": initial_models(self.project, self.env),
                "model_schemas": model_schemas(self.project, self.env)}

    def _init_fingerprint(self, backend: Mapping[str, Any]) -> str:
        digest = hashlib.sha256(json.dumps(backend, sort_keys=True, default=str).encode())
        for path in sorted(self.project.terraform_root.rglob("*.tf")):
            if ".terraform" not in path.parts:
                digest.update(path.read_bytes())
        return digest.hexdigest()

    def prepare(self, build_image: bool = False, extra_vars: Mapping[str, Any] | None = None) -> None:
        """Guard, write the variables, and init (again only when the backend or configuration changed)."""
        self.target.ensure_ready()
        write_tfvars(self.env, self.var_file, {**self.artifacts(build_image), **(extra_vars or {})})
        backend = self.target.backend_config()
        stamp = self.work / "init.sha256"
        fingerprint = self._init_fingerprint(backend)
        if not (stamp.exists() and stamp.read_text() == fingerprint and (self.work / "tfdata").is_dir()):
            self.terraform.init(backend)
            stamp.write_text(fingerprint)

    def plan(self, destroy: bool = False, build_image: bool = False, targets: tuple[str, ...] = (),
             extra_vars: Mapping[str, Any] | None = None) -> PlanSummary:
        self.prepare(build_image, extra_vars)
        planfile = self.work / ("destroy.tfplan" if destroy else "up.tfplan")
        try:
            return self.terraform.plan(self.var_file, planfile, destroy=destroy, targets=targets)
        except ProcessError as exc:
            raise self._translate(exc) from None

    def ensure_registry(self, confirm: Callable[[PlanSummary], bool]) -> None:
        """AWS environments: the image is pushed before the framework is applied, so its ECR repository must
        exist first. On a first `up` that is one targeted apply of the registry module."""
        if self.env.is_local:
            return
        self.target.ensure_ready()
        if self.image_builder().repository_exists():
            return
        self.echo(f"first deployment of {self.env.name}: creating the image registry before building the image")
        plan = self.plan(targets=("module.registry",))
        if plan.has_changes:
            if not confirm(plan):
                plan.discard()
                raise VwtError("not applied: the plan was not confirmed", "run again and answer yes, or pass --yes")
            self.apply(plan)
        else:
            plan.discard()

    def apply(self, plan: PlanSummary) -> None:
        assert plan.path is not None
        try:
            self.terraform.apply(plan.path)
        except ProcessError as exc:
            raise self._translate(exc) from None
        finally:
            plan.discard()

    def up(self, confirm: Callable[[PlanSummary], bool]) -> UpResult:
        self.ensure_registry(confirm)
        plan = self.plan(build_image=True)
        if not plan.has_changes:
            plan.discard()
            return UpResult(plan, False, self._cached_outputs())
        if not confirm(plan):
            plan.discard()
            raise VwtError("not applied: the plan was not confirmed", "run again and answer yes, or pass --yes")
        self.apply(plan)
        self.target.on_applied(destroyed=False)
        return UpResult(plan, True, self._cached_outputs(refresh=True))

    def down(self, confirm: Callable[[PlanSummary], bool], destroy_data: bool = False,
             keep_running: bool = False) -> PlanSummary:
        """Destroy the environment, then what retraining created at run time. The data and model buckets of
        dev/staging/prod are guarded (terraform/modules/storage): while any holds objects, `down` refuses unless
        destroy_data; otherwise it lifts the guard (an in-place apply) right before the destroy it confirmed."""
        from .cleanup import non_empty_buckets, remove_runtime_leftovers
        from .dataguard import DESTROY_DATA_VARS

        extra: dict[str, Any] = {}
        if not self.env.is_local:
            self.target.ensure_ready()
            full = non_empty_buckets(self.env, self.target.client("s3"))
            if full and not destroy_data:
                listed = ", ".join(f"{name} ({n}{'+' if n >= 1000 else ''} objects)" for name, n in sorted(full.items()))
                raise VwtError(
                    f"refusing to destroy {self.env.name}: its data and model buckets hold objects: {listed}",
                    f"nothing was destroyed; to delete them with everything in them run "
                    f"`vwt-deploy down --env {self.env.name} --destroy-data`",
                )
            extra = dict(DESTROY_DATA_VARS)
        plan = self.plan(destroy=True, extra_vars=extra)
        if plan.has_changes:
            if not confirm(plan):
                plan.discard()
                self.prepare()  # the variables as they were: nothing lifted
                raise VwtError("nothing destroyed: not confirmed", "run again and confirm, or pass --yes")
            if extra:
                plan.discard()
                lift = self.plan(extra_vars=extra)
                if lift.has_changes:
                    self.apply(lift)
                else:
                    lift.discard()
                plan = self.plan(destroy=True, extra_vars=extra)
            self.apply(plan)
        else:
            plan.discard()
        leftovers = remove_runtime_leftovers(self.env, self.target.client("sagemaker"))
        if any(leftovers.values()):
            self.echo(f"removed what retraining created: {len(leftovers['models'])} models, "
                      f"{len(leftovers['endpoint_configs'])} endpoint configurations")
        (self.work / "outputs.json").unlink(missing_ok=True)
        self.target.on_applied(destroyed=True, keep_running=keep_running)
        return plan

    def _cached_outputs(self, refresh: bool = False) -> dict[str, Any]:
        """The outputs as of the last apply (an `up` with no changes need not ask terraform again)."""
        cache = self.work / "outputs.json"
        if not refresh and cache.exists():
            return json.loads(cache.read_text())
        outputs = self.outputs()
        cache.write_text(json.dumps(outputs, sort_keys=True, default=str))
        return outputs

    def outputs(self) -> dict[str, Any]:
        try:
            return self.terraform.output()
        except ProcessError as exc:
            raise self._translate(exc) from None

    def status(self) -> dict[str, Any]:
        """What is deployed. Never starts anything: a stopped emulator is reported, not started."""
        out: dict[str, Any] = {"environment": self.env.name}
        if self.target.available():
            self.prepare()
            out["outputs"] = self.outputs()
        out.update(self.target.describe(out.get("outputs")))
        return out

    def _translate(self, exc: ProcessError) -> VwtError:
        if is_lock_error(exc):
            return VwtError(
                f"the Terraform state of {self.env.name} is locked: another `vwt-deploy up/down` (or terraform) "
                "is running on it",
                "wait for it to finish and run the command again; nothing was changed by this run",
            )
        return exc
