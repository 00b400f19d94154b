"""The deployment pipeline: prepare (guard, variables, init) -> plan -> apply, for one environment.

`plan` is the same pipeline as `up` with nothing applied. The target says where the Terraform goes
(`vwt_deploy.deploy.targets`): AWS for dev/staging/prod (with the account guard), the local emulator for
`local`. Read-only commands (`status`, and the outputs every operation reads) never build anything: they
initialise Terraform's backend and read.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vwt_deploy.build import artifacts as build_artifacts
from vwt_deploy.build.image import BuildResult, ImageBuilder
from vwt_deploy.config import Environment
from vwt_deploy.deploy import statelock
from vwt_deploy.deploy.adopt import (
    IMPORTS_FILE,
    Found,
    Orphan,
    find_orphans,
    find_unrecorded,
    has_prior_state,
    import_blocks,
)
from vwt_deploy.deploy.repair import Repair, repair_failed_endpoints

if TYPE_CHECKING:
    from vwt_deploy.deploy.deployrole import DeployRole
from vwt_deploy.deploy.targets import Target, target_for
from vwt_deploy.deploy.terraform import PlanSummary, Terraform, is_lock_error
from vwt_deploy.deploy.tfvars import write_tfvars
from vwt_deploy.errors import ConfigError, ProcessError, VwtError
from vwt_deploy.process import Runner
from vwt_deploy.project import Project


@dataclass(frozen=True)
class UpResult:
    plan: PlanSummary
    applied: bool
    outputs: Mapping[str, Any]
    repairs: tuple[Repair, ...] = ()
    orphans: tuple[Orphan, ...] = ()


def not_deployed(env_name: str, why: str = "") -> ConfigError:
    """Nothing runs without a deployment: exit 2, worded the same for every command."""
    return ConfigError(f"{env_name} is not deployed{why}", f"deploy it with `vwt-deploy up --env {env_name}`")


class Deployment:
    """One environment of one project. Holds no global state; tests build it with a fake runner and target."""

    def __init__(
        self,
        project: Project,
        env: Environment,
        runner: Runner | None = None,
        target: Target | None = None,
        echo: Callable[[str], None] = print,
    ):
        self.project = project
        self.env = env
        self.runner = runner or Runner()
        self._target = target
        self.echo = echo
        self.work = project.env_dir(env.name)

    @cached_property
    def target(self) -> Target:
        return self._target if self._target is not None else target_for(self.project, self.env, self.runner)

    @cached_property
    def terraform(self) -> Terraform:
        env = {**self.project.terraform_env(), **self.target.terraform_env()}
        return Terraform(self.project.terraform_root, self.work / "tfdata", self.runner, env)

    @property
    def var_file(self) -> Path:
        return self.work / "terraform.tfvars.json"

    @property
    def _outputs_cache(self) -> Path:
        return self.work / "outputs.json"

    # ---- building
    def image_builder(self) -> ImageBuilder:
        return ImageBuilder(self.project, self.env, self.target.ensure_ready, self.runner, echo=self.echo)

    def build_image(self) -> BuildResult:
        """Build and push the image where the target runs it (`vwt-deploy build`, and `up`)."""
        return self.target.publish_image(self.image_builder())

    def artifacts(self, build_image: bool = False) -> dict[str, Any]:
        """What the tool builds before Terraform runs, as the variables that name it (`vwt_deploy.build`).
        The image is tagged with its content hash; it is built and pushed only by `up` (`build_image`)."""
        builder = self.image_builder()
        tag = self.target.publish_image(builder).tag if build_image else builder.tag
        return build_artifacts(self.project, self.env, tag)

    # ---- terraform
    def _init_fingerprint(self, backend: Mapping[str, Any]) -> str:
        digest = hashlib.sha256(json.dumps(backend, sort_keys=True, default=str).encode())
        for path in sorted(self.project.terraform_root.rglob("*.tf")):
            if ".terraform" not in path.parts:
                digest.update(path.read_bytes())
        return digest.hexdigest()

    def init(self) -> None:
        """Guard, and init Terraform's backend (again only when the backend or configuration changed)."""
        self.target.ensure_ready()
        backend = self.target.backend_config()
        stamp = self.work / "init.sha256"
        fingerprint = self._init_fingerprint(backend)
        if not (stamp.exists() and stamp.read_text() == fingerprint and (self.work / "tfdata").is_dir()):
            self.terraform.init(backend)
            stamp.write_text(fingerprint)

    def prepare(self, build_image: bool = False, extra_vars: Mapping[str, Any] | None = None) -> None:
        """Guard, build, write the variables, and init."""
        self.target.ensure_ready()
        write_tfvars(self.env, self.var_file, {**self.artifacts(build_image), **(extra_vars or {})})
        self.init()

    def _require_api_logging_role(self) -> None:
        """API Gateway writes the API's logs with the region's account-wide CloudWatch role: without one the stage
        cannot be created. The tool sets it only when told to (api.manage_account_logging_role)."""
        if self.env.api.manage_account_logging_role:
            return
        if not self.target.client("apigateway").get_account().get("cloudwatchRoleArn"):
            raise ConfigError(
                f"the API Gateway account settings of {self.env.region} name no CloudWatch role, so the prediction "
                "API's logs could not be written and its stage would be refused",
                f"set api.manage_account_logging_role: true in environments/{self.env.name}.yaml to let vwt-deploy "
                "set it (and reset it on down), or set the account's role yourself",
            )

    def plan(
        self,
        destroy: bool = False,
        build_image: bool = False,
        targets: tuple[str, ...] = (),
        extra_vars: Mapping[str, Any] | None = None,
        imports: list[Found] | None = None,
    ) -> PlanSummary:
        self.prepare(build_image, extra_vars)
        if not destroy:
            self._require_api_logging_role()
        planfile = self.work / ("destroy.tfplan" if destroy else "up.tfplan")
        imports_file = self.project.terraform_root / IMPORTS_FILE
        try:
            if imports:  # only while this plan is made: the saved plan carries the imports to the apply
                imports_file.write_text(import_blocks(imports))
            with statelock.holding(self.work, "plan"):
                return self.terraform.plan(self.var_file, planfile, destroy=destroy, targets=targets)
        except ProcessError as exc:
            raise self._translate(exc) from None
        finally:
            imports_file.unlink(missing_ok=True)

    def apply(self, plan: PlanSummary) -> None:
        assert plan.path is not None
        try:
            with statelock.holding(self.work, "apply"):
                self.terraform.apply(plan.path)
        except ProcessError as exc:
            raise self._translate(exc) from None
        finally:
            plan.discard()

    def _confirmed_apply(self, plan: PlanSummary, confirm: Callable[[PlanSummary], bool]) -> bool:
        """Apply a plan the user confirmed; False (nothing applied) when it has no changes."""
        if not plan.has_changes:
            plan.discard()
            return False
        if not confirm(plan):
            plan.discard()
            raise VwtError("not applied: the plan was not confirmed", "run again and answer yes, or pass --yes")
        self.apply(plan)
        return True

    def ensure_registry(self, confirm: Callable[[PlanSummary], bool]) -> None:
        """The image is pushed before the framework is applied, so its ECR repository must exist first.
        On a first `up` of such a target that is one targeted apply of the registry module."""
        if not self.target.publishes_image:
            return
        self.target.ensure_ready()
        if self.image_builder().repository_exists():
            return
        self.echo(f"first deployment of {self.env.name}: creating the image registry before building the image")
        self._confirmed_apply(self.plan(targets=("module.registry",)), confirm)

    # ---- the commands
    def bootstrap(self) -> DeployRole | None:
        """The state bucket; and, on AWS where the environment names its GitHub repository, the account's GitHub
        OIDC provider and the environment's deploy role (vwt_deploy.deploy.deployrole)."""
        self.target.bootstrap()  # locally: as the administrator, whoever `up` acts as
        if not self.env.delivery.github_repository:
            return None
        from vwt_deploy.deploy.deployrole import bootstrap_deploy_role

        path = self.project.deployer_policy
        if not path.exists():
            raise ConfigError(
                f"no deploy role policy at {path}", "derive it with `make deployer-policy` (a local run) and review it"
            )
        account = self.target.client("sts").get_caller_identity()["Account"]
        return bootstrap_deploy_role(self.env, self.target.client("iam"), path.read_text(), account)

    def _require_deploy_role(self) -> None:
        """Where the environment is deployed from a GitHub repository, its deploy role and the account's GitHub OIDC
        provider must exist (`vwt-deploy bootstrap` makes them): one message naming it, before anything changes.
        Nothing to check when the caller is that role (it exists, and GitHub's token was accepted). Locally the
        target checks them itself when it acts as the role (VWT_LOCAL_PRINCIPAL=deploy-role)."""
        if self.env.is_local or not self.env.delivery.github_repository:
            return
        from vwt_deploy.deploy.deployrole import require_bootstrapped

        self.target.ensure_ready()
        caller = self.target.client("sts").get_caller_identity()
        if f":assumed-role/{self.env.deploy_role_name}/" in caller["Arn"]:
            return
        require_bootstrapped(self.env, self.target.client("iam"), caller["Account"])

    def up(self, confirm: Callable[[PlanSummary], bool]) -> UpResult:
        from vwt_deploy.deploy.validate import require_admin_email

        require_admin_email(self.env)  # before anything is built or touched
        self._require_deploy_role()
        self.ensure_registry(confirm)
        repairs = tuple(self.repair_endpoints())
        plan = self.plan(build_image=True)
        found, orphans = self.unrecorded(plan)
        if found:  # plan again, importing them
            plan.discard()
            plan = self.plan(imports=found)
        if not self._confirmed_apply(plan, confirm):
            return UpResult(plan, False, self.outputs(), repairs)
        self.target.on_applied(destroyed=False)
        for orphan in orphans:
            self.echo(
                f"left by an interrupted apply and not in the state (this apply made a new one): {orphan.kind} "
                f"{orphan.name} ({orphan.id}); delete it with `{orphan.delete}`"
            )
        return UpResult(plan, True, self.outputs(refresh=True), repairs, tuple(orphans))

    def unrecorded(self, plan: PlanSummary) -> tuple[list[Found], list[Orphan]]:
        """What an interrupted apply created but did not record, among what `plan` creates
        (vwt_deploy.deploy.adopt): what can be adopted, and what cannot; looked for only when the state already
        holds resources."""
        if not plan.document or not has_prior_state(plan.document) or not plan.adds:
            return [], []
        account = self.target.client("sts").get_caller_identity()["Account"]
        found = find_unrecorded(plan.document, self.target.client, self.env.region, account)
        for item in found:
            self.echo(f"adopting {item.address} ({item.import_id}): it exists but the state did not record it")
        return found, find_orphans(plan.document, self.target.client)

    def repair_endpoints(self) -> list[Repair]:
        """Endpoints SageMaker marked Failed, created again with what they served (vwt_deploy.deploy.repair);
        the plan after it registers their auto scaling again."""
        self.target.ensure_ready()
        local = self.env.is_local
        return repair_failed_endpoints(
            self.env,
            self.target.client("sagemaker"),
            self.echo,
            poll_seconds=0.5 if local else 30,
            timeout_seconds=300 if local else 3600,
        )

    def _guard_data(self, destroy_data: bool) -> dict[str, Any]:
        """Targets that guard data: refuse while data or model buckets hold objects (unless destroy_data), and
        return the variables that lift the destroy guard (terraform/modules/storage)."""
        if not self.target.guards_data:
            return {}
        from vwt_deploy.deploy.cleanup import non_empty_buckets
        from vwt_deploy.deploy.dataguard import DESTROY_DATA_VARS

        self.target.ensure_ready()
        full = non_empty_buckets(self.env, self.target.client("s3"))
        if full and not destroy_data:
            listed = ", ".join(f"{name} ({n}{'+' if n >= 1000 else ''} objects)" for name, n in sorted(full.items()))
            raise VwtError(
                f"refusing to destroy {self.env.name}: its data and model buckets hold objects: {listed}",
                f"nothing was destroyed; to delete them with everything in them run "
                f"`vwt-deploy down --env {self.env.name} --destroy-data`",
            )
        return dict(DESTROY_DATA_VARS)

    def down(
        self, confirm: Callable[[PlanSummary], bool], destroy_data: bool = False, keep_running: bool = False
    ) -> PlanSummary:
        """Destroy the environment, then what retraining created at run time. Where the target guards data,
        `down` refuses while a data or model bucket holds objects unless destroy_data; otherwise it lifts the
        guard (an in-place apply) right before the destroy it confirmed."""
        from vwt_deploy.deploy.cleanup import remove_model_versions, remove_runtime_leftovers

        extra = self._guard_data(destroy_data)
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
            versions = remove_model_versions(self.env, self.target.client("sagemaker"))
            if versions:
                self.echo(f"deleted {versions} model versions from the registry (their groups are destroyed next)")
            self.apply(plan)
        else:
            plan.discard()
        leftovers = remove_runtime_leftovers(self.env, self.target.client("sagemaker"))
        if any(leftovers.values()):
            self.echo(
                f"removed what retraining created: {len(leftovers['models'])} models, "
                f"{len(leftovers['endpoint_configs'])} endpoint configurations"
            )
        self._outputs_cache.unlink(missing_ok=True)
        self.target.on_applied(destroyed=True, keep_running=keep_running)
        return plan

    # ---- reading what is deployed (never builds)
    def outputs(self, refresh: bool = False) -> dict[str, Any]:
        """Terraform's outputs: as of the last `up` (cached), or read from the state."""
        if not refresh and self._outputs_cache.exists():
            return json.loads(self._outputs_cache.read_text())
        self.init()
        try:
            outputs = self.terraform.output()
        except ProcessError as exc:
            raise self._translate(exc) from None
        self._outputs_cache.write_text(json.dumps(outputs, sort_keys=True, default=str))
        return outputs

    def require_deployed(self) -> Target:
        """The target of a deployed environment, checked: the account guard on AWS; an emulator that runs the
        deployment `up` made (a stopped one is refused, not started: it would be empty)."""
        if not self.target.available():
            raise not_deployed(self.env.name, ": the local emulator is not running")
        self.target.ensure_ready()
        if self.target.state_lost():
            raise not_deployed(
                self.env.name, ": the emulator restarted since the last `up`, and what was deployed is gone"
            )
        return self.target

    def deployed_outputs(self) -> dict[str, Any]:
        """The outputs of a deployed environment; ConfigError (exit 2) when nothing is deployed."""
        self.require_deployed()
        outputs = self.outputs()
        if not outputs.get("state_machine_arns"):
            raise not_deployed(self.env.name)
        return outputs

    def status(self) -> dict[str, Any]:
        """What is deployed. Never starts or builds anything: a stopped emulator is reported, not started."""
        out: dict[str, Any] = {"environment": self.env.name}
        if self.target.available():
            out["outputs"] = self.outputs(refresh=True)
        out.update(self.target.describe(out.get("outputs")))
        return out

    def _translate(self, exc: ProcessError) -> VwtError:
        if is_lock_error(exc):
            return self._locked()
        if exc.returncode is not None and exc.returncode < 0:  # killed by a signal: it released nothing
            return VwtError(
                f"terraform was stopped by signal {-exc.returncode} before it finished, so the lock it held on the "
                f"state of {self.env.name} is left",
                f"release it with `vwt-deploy unlock --env {self.env.name}`, then run the command again (`up` adopts "
                "what the interrupted apply created)",
            )
        return exc

    # ---- the state's lock
    def state_lock(self) -> statelock.Lock | None:
        """The lock on this environment's Terraform state (its lockfile in the state bucket), or None."""
        self.target.ensure_ready()
        if self.env.is_local:
            s3 = self.target.client("s3")
        else:
            import boto3

            s3 = boto3.client("s3", region_name=self.env.state.region or self.env.region)
        return statelock.read_lock(s3, self.env.state_bucket_name, self.env.state.key)

    def _locked(self) -> VwtError:
        """The lock error, with who holds the lock and since when, and whether that holder still runs."""
        unlock = f"`vwt-deploy unlock --env {self.env.name}`"
        try:
            lock = self.state_lock()
        except Exception:  # noqa: BLE001 - the lock's details are a courtesy: the error stands without them
            lock = None
        if lock is None:
            return VwtError(
                f"the Terraform state of {self.env.name} is locked: another `vwt-deploy up/down` (or terraform) "
                "is running on it",
                "wait for it to finish and run the command again; nothing was changed by this run",
            )
        state, pid = statelock.holder_state(lock, self.work)
        where = f"the Terraform state of {self.env.name} is locked ({lock.describe()})"
        if state == "alive":
            return VwtError(
                f"{where}: vwt-deploy (pid {pid}) on this machine is running terraform on it",
                "wait for it to finish and run the command again; nothing was changed by this run",
            )
        if state == "gone":
            return VwtError(
                f"{where}: the vwt-deploy run on this machine that took it (pid {pid}) no longer exists, so the "
                "lock is stale",
                f"release it with {unlock}, then run the command again; nothing was changed by this run",
            )
        return VwtError(
            f"{where}: another `vwt-deploy up/down` (or terraform) may be running on it",
            f"wait for it to finish; if that run is over (cancelled or killed), release the lock with {unlock}",
        )

    def unlock(self, confirm: Callable[[statelock.Lock], bool]) -> statelock.Lock | None:
        """Release a stale lock: never one whose holder still runs on this machine; only once confirmed."""
        lock = self.state_lock()
        if lock is None:
            return None
        state, pid = statelock.holder_state(lock, self.work)
        if state == "alive":
            raise VwtError(
                f"not unlocking {self.env.name}: vwt-deploy (pid {pid}) on this machine still runs terraform on it "
                f"({lock.describe()})",
                "wait for it to finish; its lock is released when it ends",
            )
        if not confirm(lock):
            raise VwtError("nothing unlocked: not confirmed", "run again and confirm, or pass --yes")
        self.init()
        try:
            self.terraform.force_unlock(lock.id)
        except ProcessError as exc:
            raise VwtError(f"terraform could not release {lock.describe()}: {exc}", "run the command again") from None
        statelock.forget_dead_holders(self.work)
        return lock
