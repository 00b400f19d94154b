"""`vwt-deploy models`: a model's versions in the registry (its SageMaker model package group), and the
decisions a person makes about them: approve, reject, roll back.

Every completed retraining run registers a version (templates/steps/registry.j2) with its lineage, its numbers
and the gate's decision in CustomerMetadataProperties. What serves is the model's record (the SSM parameter the
deployment writes); its `model_package_arn` names the serving version (the Terraform baseline has none).

Deploying a version is always the state machine's deploy mode ({"model", "mode": "deploy",
"model_package_arn"}): it deploys only an Approved version of the model's own group, through the same
zero-downtime endpoint update as a retraining run. Where approval is manual (staging, prod) approving a version
is enough: the registry's state-change event starts that execution (the EventBridge rule Terraform made). Where
approval is automatic there is no such rule, so `approve` starts it itself.

Calls, checked against the SageMaker API reference: ListModelPackages (ModelPackageGroupName,
ModelPackageType=Versioned, SortBy/SortOrder, paginated), DescribeModelPackage (ModelApprovalStatus,
ApprovalDescription up to 1,024 characters, CustomerMetadataProperties), UpdateModelPackage (ModelApprovalStatus,
ApprovalDescription).
"""

from __future__ import annotations

import io
import json
import tarfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from vwt_deploy.deploy.pipeline import Deployment, not_deployed
from vwt_deploy.errors import ConfigError, VwtError
from vwt_deploy.operate.retrain import Retrain

APPROVED, REJECTED, PENDING = "Approved", "Rejected", "PendingManualApproval"
#: ApprovalDescription's length limit (SageMaker API reference, UpdateModelPackage)
DESCRIPTION_LIMIT = 1024
MODEL_ARCHIVE, OUTPUT_ARCHIVE = "model.tar.gz", "output.tar.gz"
REPORT_FOLDER = "report/"
#: how long `approve --wait` waits for the registry's event to start the deployment
EVENT_WAIT_SECONDS = 60.0


@dataclass
class Version:
    """One model package version, as `models list` and `models show` present it."""

    number: int
    arn: str
    status: str
    created: datetime | None
    description: str = ""
    approval_description: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    image: str | None = None
    model_data_url: str | None = None
    serving: bool = False

    @classmethod
    def from_description(cls, d: dict[str, Any], serving_arn: str | None) -> Version:
        containers = (d.get("InferenceSpecification") or {}).get("Containers") or [{}]
        return cls(
            number=int(d["ModelPackageVersion"]),
            arn=d["ModelPackageArn"],
            status=d.get("ModelApprovalStatus", ""),
            created=d.get("CreationTime"),
            description=d.get("ModelPackageDescription", ""),
            approval_description=d.get("ApprovalDescription", ""),
            metadata=dict(d.get("CustomerMetadataProperties") or {}),
            image=containers[0].get("Image"),
            model_data_url=containers[0].get("ModelDataUrl"),
            serving=d["ModelPackageArn"] == serving_arn,
        )

    @property
    def gate_refused(self) -> bool:
        return self.metadata.get("gate_decision") == "keep"

    @property
    def approved_by(self) -> str:
        """Who or what approved (or rejected) it: a person's recorded description, else the pipeline's."""
        if self.approval_description:
            return self.approval_description
        if self.status == PENDING:
            return "nobody yet: it awaits a person's approval"
        return self.metadata.get("approval", "not recorded")

    @property
    def report_uri(self) -> str | None:
        """The training job's output.tar.gz beside its model.tar.gz: the evaluation report is its `report/`."""
        url = self.model_data_url or ""
        return url[: -len(MODEL_ARCHIVE)] + OUTPUT_ARCHIVE if url.endswith("/" + MODEL_ARCHIVE) else None

    @property
    def hyperparameters(self) -> dict[str, str]:
        return {k[3:]: v for k, v in sorted(self.metadata.items()) if k.startswith("hp.")}

    def summary(self) -> dict[str, Any]:
        m = self.metadata
        return {
            "version": self.number,
            "status": self.status,
            "serving": self.serving,
            "created": self.created.isoformat() if self.created else None,
            "metric": m.get("metric"),
            "value": m.get("challenger"),
            "champion_value": m.get("champion"),
            "gate_decision": m.get("gate_decision"),
            "training_job": m.get("training_job"),
        }

    def as_dict(self) -> dict[str, Any]:
        m = self.metadata
        return {
            **self.summary(),
            "arn": self.arn,
            "description": self.description,
            "lineage": {
                "training_job": m.get("training_job"),
                "execution": m.get("execution"),
                "mode": m.get("mode"),
                "data_location": m.get("data_location"),
                "image": self.image,
                "model_data_url": self.model_data_url,
                "champion_model": m.get("champion_model"),
            },
            "metrics": {
                "metric": m.get("metric"),
                "value": m.get("challenger"),
                "champion_value": m.get("champion"),
                "floor": m.get("floor"),
            },
            "gate": {"decision": m.get("gate_decision"), "reason": m.get("gate_reason")},
            "hyperparameters": self.hyperparameters,
            "approval": {"status": self.status, "by": self.approved_by},
            "report": self.report_uri,
        }

    def lines(self) -> list[str]:
        d = self.as_dict()
        lineage, metrics = d["lineage"], d["metrics"]
        out = [
            f"version {self.number} of {self.metadata.get('model', '?')}: {self.status}"
            + (" (serving)" if self.serving else ""),
            f"  created:        {d['created']}",
            f"  training job:   {lineage['training_job']} ({lineage['mode']} run {lineage['execution']})",
            f"  data:           {lineage['data_location']}",
            f"  image:          {lineage['image']}",
            f"  artifact:       {lineage['model_data_url']}",
            f"  champion:       {lineage['champion_model']}",
            f"  {metrics['metric']}: {metrics['value']} (champion on the same hold-out: "
            f"{metrics['champion_value']}; floor: {metrics['floor']})",
            f"  gate:           {d['gate']['decision']}: {d['gate']['reason']}",
            f"  approval:       {self.approved_by}",
        ]
        if self.hyperparameters:
            out.append("  hyperparameters: " + ", ".join(f"{k}={v}" for k, v in self.hyperparameters.items()))
        if self.report_uri:
            out.append(f"  report:         {self.report_uri} (report/report.html; --report DIR fetches it)")
        return out


class Registry:
    """The registry of one deployed environment, through the deployment target's clients."""

    def __init__(self, deployment: Deployment, clients: dict[str, Any] | None = None):
        self.deployment = deployment
        self.env = deployment.env
        self._clients = dict(clients or {})
        self._outputs: dict[str, Any] | None = None

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.deployment.target.client(service)
        return self._clients[service]

    def _deployed(self) -> dict[str, Any]:
        """The deployment's outputs, checked deployed once per command (not once per question)."""
        if self._outputs is None:
            self._outputs = self.deployment.deployed_outputs()
        return self._outputs

    def _retrain(self) -> Retrain:
        return Retrain(self.deployment, self._client("stepfunctions"))

    # -- reading -------------------------------------------------------------------------------------------

    def group(self, model: str) -> str:
        self.env.catalogue.model(model)  # ConfigError naming the known models
        group = (self._deployed().get("model_package_groups") or {}).get(model)
        if not group:
            raise not_deployed(self.env.name, f" with a model registry for {model}")
        return group

    def serving(self, model: str) -> dict[str, Any]:
        """The serving model's record (the deployment's SSM parameter)."""
        name = self._deployed()["current_model_parameter_names"][model]
        value = self._client("ssm").get_parameter(Name=name)["Parameter"]["Value"]
        return json.loads(value)

    def versions(self, model: str) -> list[Version]:
        """Every version of the model's group, newest first."""
        group, serving = self.group(model), self.serving(model).get("model_package_arn")
        sm = self._client("sagemaker")
        arns: list[str] = []
        kwargs: dict[str, Any] = {
            "ModelPackageGroupName": group,
            "ModelPackageType": "Versioned",
            "SortBy": "CreationTime",
            "SortOrder": "Descending",
            "MaxResults": 100,
        }
        while True:
            page = sm.list_model_packages(**kwargs)
            arns += [s["ModelPackageArn"] for s in page["ModelPackageSummaryList"]]
            if not page.get("NextToken"):
                break
            kwargs["NextToken"] = page["NextToken"]
        described = [Version.from_description(sm.describe_model_package(ModelPackageName=a), serving) for a in arns]
        return sorted(described, key=lambda v: v.number, reverse=True)

    def version(self, model: str, number: int | None) -> Version:
        """One version (default: the newest)."""
        return self._pick(model, self.versions(model), number)

    def _pick(self, model: str, versions: list[Version], number: int | None) -> Version:
        if not versions:
            raise VwtError(
                f"{model} has no registered versions in {self.env.name}",
                f"train one: vwt-deploy retrain --env {self.env.name} --model {model} --wait",
            )
        if number is None:
            return versions[0]
        for v in versions:
            if v.number == number:
                return v
        known = ", ".join(str(v.number) for v in reversed(versions))  # oldest first
        raise ConfigError(
            f"{model} has no version {number} in {self.env.name} (versions: {known})",
            f"list them: vwt-deploy models list --env {self.env.name} --model {model}",
        )

    def fetch_report(self, version: Version, dest: Path) -> Path:
        """Download the version's evaluation report into `dest`/report/; return its HTML page."""
        if not version.report_uri:
            raise VwtError(f"version {version.number} names no model artifact, so it has no report", "")
        bucket, _, key = version.report_uri[len("s3://") :].partition("/")
        s3 = self._client("s3")
        try:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except s3.exceptions.NoSuchKey:
            raise VwtError(
                f"version {version.number} has no evaluation report ({version.report_uri} does not exist)",
                "versions trained before the report existed have none; retrain to get one",
            ) from None
        dest.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
            members = [m for m in tar.getmembers() if m.name.startswith(REPORT_FOLDER) and (m.isfile() or m.isdir())]
            if not any(m.name == REPORT_FOLDER + "report.html" for m in members):
                raise VwtError(f"{version.report_uri} holds no {REPORT_FOLDER}report.html", "retrain to get a report")
            tar.extractall(dest, members=members, filter="data")  # no absolute paths, links or ../ escapes
        return dest / REPORT_FOLDER / "report.html"

    # -- decisions -----------------------------------------------------------------------------------------

    def _who(self) -> str:
        try:
            return self._client("sts").get_caller_identity()["Arn"]
        except Exception:  # noqa: BLE001 - the decision stands without a name; say so
            return "an unidentified caller"

    def _decide(self, version: Version, status: str, verb: str, reason: str | None) -> Version:
        """Record the decision on the version; the version as the registry holds it now."""
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        text = f"{verb} by {self._who()} at {now} with vwt-deploy" + (f": {reason}" if reason else "")
        sm = self._client("sagemaker")
        sm.update_model_package(
            ModelPackageArn=version.arn, ModelApprovalStatus=status, ApprovalDescription=text[:DESCRIPTION_LIMIT]
        )
        described = sm.describe_model_package(ModelPackageName=version.arn)
        return Version.from_description(described, version.arn if version.serving else None)

    def approve(self, model: str, number: int, reason: str | None = None) -> tuple[Version, str | None]:
        """Approve a version; return it and the deployment's execution ARN when this call started one."""
        version = self.version(model, number)
        if version.gate_refused:
            raise VwtError(
                f"version {number} of {model} failed the gate, so it cannot be approved: "
                f"{version.metadata.get('gate_reason', 'no reason recorded')}",
                "train a better model (vwt-deploy retrain), or change the catalogue's floor if the risk team agrees",
            )
        if version.status == APPROVED:
            hint = (
                "it is serving"
                if version.serving
                else f"deploy it with: vwt-deploy models rollback --env {self.env.name} --model {model} "
                f"--version {number}"
            )
            raise VwtError(f"version {number} of {model} is already approved", hint)
        approved = self._decide(version, APPROVED, "approved", reason)
        execution = None
        if self.env.approval_mode == "auto":  # no registry event rule here: start the deployment ourselves
            execution = self._retrain().start_deploy(model, version.arn)
        return approved, execution

    def reject(self, model: str, number: int, reason: str | None = None) -> Version:
        version = self.version(model, number)
        if version.serving:
            raise VwtError(
                f"version {number} of {model} is serving in {self.env.name}, so it cannot be rejected",
                f"roll back first (vwt-deploy models rollback --env {self.env.name} --model {model}), then reject it",
            )
        if version.status == REJECTED:
            raise VwtError(f"version {number} of {model} is already rejected", "nothing to do")
        return self._decide(version, REJECTED, "rejected", reason)

    def rollback_target(self, model: str, number: int | None = None) -> Version:
        """The version a rollback deploys: the given one, or the newest approved version older than the serving."""
        versions = self.versions(model)
        serving = next((v for v in versions if v.serving), None)
        if number is not None:
            target = self._pick(model, versions, number)
            if target.status != APPROVED:
                raise VwtError(
                    f"version {number} of {model} is {target.status}: only an approved version is deployed",
                    f"approve it first: vwt-deploy models approve --env {self.env.name} --model {model} "
                    f"--version {number}",
                )
            if target.serving:
                raise VwtError(f"version {number} of {model} is already serving", "nothing to roll back")
            return target
        below = serving.number if serving else None
        earlier = [
            v for v in versions if v.status == APPROVED and not v.serving and (below is None or v.number < below)
        ]
        if serving is None or not earlier:
            now = f"version {serving.number}" if serving else "the baseline (no registered version)"
            raise VwtError(
                f"{model} in {self.env.name} has no approved version older than what serves now ({now}), "
                "so there is nothing to roll back to",
                f"list the versions: vwt-deploy models list --env {self.env.name} --model {model}",
            )
        return earlier[0]

    def rollback(self, model: str, number: int | None = None) -> tuple[Version, str]:
        target = self.rollback_target(model, number)
        return target, self._retrain().start_deploy(model, target.arn)

    def deployment_started_by_event(
        self, model: str, arn: str, since: datetime, wait: float = EVENT_WAIT_SECONDS, poll: float = 1.0
    ) -> str:
        """The execution the registry's approval event started for this version (manual approval)."""
        retrain = self._retrain()
        machine = retrain.state_machine(model, tune=False)
        deadline = time.monotonic() + wait
        checked: set[str] = set()  # executions already read that are not this deployment
        while True:
            for e in retrain.sfn.list_executions(stateMachineArn=machine, maxResults=20)["executions"]:
                if e["startDate"] < since or e["executionArn"] in checked:
                    continue
                checked.add(e["executionArn"])
                given = json.loads(retrain.sfn.describe_execution(executionArn=e["executionArn"]).get("input") or "{}")
                if given.get("mode") == "deploy" and given.get("model_package_arn") == arn:
                    return e["executionArn"]
            if time.monotonic() >= deadline:
                raise VwtError(
                    f"no deployment of {arn} started within {wait:.0f} s of the approval",
                    "the approval is recorded; check the EventBridge rule of the model "
                    "(vwt-deploy status) and the state machine's executions",
                )
            time.sleep(poll)
