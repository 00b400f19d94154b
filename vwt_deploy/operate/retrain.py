"""`vwt-deploy retrain`: start a model's retraining pipeline (its state machine) and follow it.

The state machine's ARN comes from the deployment's Terraform outputs (`state_machine_arns`); the
execution input is what the pipeline's CheckInput expects, {"model": M, "mode": "train"|"tune"}. It is
plain Step Functions through the deployment target's client, so it works for the local emulator and AWS.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vwt_deploy.deploy.pipeline import Deployment, not_deployed
from vwt_deploy.errors import ConfigError, VwtError

#: seconds between two looks at a followed execution
FOLLOW_SECONDS = 1.0


@dataclass
class Outcome:
    """How an execution ended, as the user reads it."""

    execution_arn: str
    status: str  # SUCCEEDED, FAILED, TIMED_OUT, ABORTED
    output: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    cause: str | None = None

    @property
    def deployed(self) -> bool:
        return self.status == "SUCCEEDED" and "record" in self.output

    @property
    def awaiting_approval(self) -> bool:
        """The gate passed and the version waits as PendingManualApproval (staging, prod): nothing deployed yet."""
        return self.status == "SUCCEEDED" and self.gate.get("decision") == "deploy" and "record" not in self.output

    @property
    def version(self) -> str | None:
        """The model package version the run registered (or deployed), e.g. 3."""
        arn = (self.output.get("registered") or {}).get("arn") or (self.output.get("release") or {}).get(
            "model_package_arn"
        )
        return arn.rsplit("/", 1)[-1] if arn else None

    @property
    def kept(self) -> bool:
        """The gate refused the new model: production was kept (a success, not a failure)."""
        return self.status == "SUCCEEDED" and self.gate.get("decision") == "keep"

    @property
    def ok(self) -> bool:
        return self.status == "SUCCEEDED"

    @property
    def drift(self) -> dict[str, Any] | None:
        """A drift check's result: status, records, the largest feature PSI, drifted, retraining started."""
        return self.output.get("drift") if self.status == "SUCCEEDED" else None

    @property
    def scored(self) -> dict[str, Any] | None:
        """A batch-scoring run's summary: records, operators (counts per risk group), results files."""
        return self.output.get("scored") if self.status == "SUCCEEDED" else None

    @property
    def gate(self) -> dict[str, Any]:
        return self.output.get("gate") or {}

    @property
    def training_job(self) -> str | None:
        training = self.output.get("training") or {}
        return training.get("job_name") or training.get("TrainingJobName")

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"execution_arn": self.execution_arn, "status": self.status}
        if self.drift is not None:
            out.update(result="drift checked", processing_job=self.output.get("job_name"), drift=self.drift)
        elif self.scored is not None:
            out.update(result="scored", transform_job=self.output.get("job_name"), **self.scored)
        elif self.ok:
            out.update(
                result="deployed"
                if self.deployed
                else "awaiting approval"
                if self.awaiting_approval
                else "kept"
                if self.kept
                else "succeeded",
                version=self.version,
                training_job=self.training_job,
                gate=self.gate,
                model_name=self.output.get("job_name"),
            )
        else:
            out.update(error=self.error, cause=self.cause)
        return out

    def lines(self) -> list[str]:
        if self.drift is not None:
            d = self.drift
            return [f"drift check: {d.get('message') or d.get('status')}"] + (
                [f"  retraining started: {d['retraining']}"] if d.get("retraining") else []
            )
        if self.scored is not None:
            return self._scored_lines(self.scored)
        gate = self.gate
        metric = f"{gate.get('metric')} = {gate.get('new_value')}"
        if gate.get("champion_value") is not None:
            metric += f" (champion on the same hold-out: {gate.get('champion_value')})"
        if self.deployed and not gate:  # a deployment of an approved version (approval, rollback)
            return [f"deployed: version {self.version}, model {self.output.get('job_name')}"]
        if self.awaiting_approval:
            return [
                f"registered version {self.version}: it awaits approval (training job {self.training_job})",
                f"  {metric}",
                f"  gate: {gate.get('reason')}",
            ]
        if self.deployed:
            return [
                f"deployed: version {self.version}, training job {self.training_job}, "
                f"model {self.output.get('job_name')}",
                f"  {metric}",
                f"  gate: {gate.get('reason')}",
            ]
        if self.kept:
            return [
                f"production model kept: version {self.version} was registered as Rejected (training job "
                f"{self.training_job})"
                if self.version
                else f"production model kept: the new model was not deployed (training job {self.training_job})",
                f"  {metric}",
                f"  gate: {gate.get('reason')}",
            ]
        if self.ok:
            return ["succeeded"]
        return [
            f"{self.status.lower().replace('_', ' ')}: {self.error or 'no error given'}",
            f"  cause: {self.cause or 'no cause given'}",
        ]

    def _scored_lines(self, scored: dict[str, Any]) -> list[str]:
        operators = scored.get("operators") or {}
        lines = [
            f"scored {scored.get('records')} players of {len(operators)} operator(s) "
            f"(transform job {self.output.get('job_name')})"
        ]
        for operator, counts in sorted(operators.items()):
            groups = ", ".join(f"{k} {v}" for k, v in counts.items() if k != "records")
            lines.append(f"  {operator}: {counts.get('records')}" + (f" ({groups})" if groups else ""))
        lines += [f"  results: {uri}" for uri in scored.get("results") or []]
        return lines


class Retrain:
    """Start and follow retraining executions of one deployed environment."""

    def __init__(self, deployment: Deployment, sfn_client: Any | None = None):
        self.deployment = deployment
        self.env = deployment.env
        self._sfn = sfn_client

    @property
    def sfn(self):
        if self._sfn is None:
            self._sfn = self.deployment.target.client("stepfunctions")
        return self._sfn

    def state_machine(self, model: str, tune: bool) -> str:
        """The model's state machine ARN; checks the model and the mode before anything runs."""
        spec = self.env.catalogue.model(model)  # ConfigError naming the known models
        if tune and spec.tuning is None:
            raise ConfigError(
                f"model {model} has no tuning section, so it cannot be tuned",
                "retrain it without --tune, or add a tuning section to its catalogue entry",
            )
        outputs = self.deployment.deployed_outputs()
        if model in (outputs.get("placeholder_state_machines") or []):
            raise VwtError(
                f"the state machine of {model} in {self.env.name} is still the placeholder",
                f"run `vwt-deploy up --env {self.env.name}` to deploy its rendered pipeline",
            )
        arn = outputs["state_machine_arns"].get(model)
        if not arn:
            raise not_deployed(self.env.name, f" with model {model}")  # a catalogue newer than the deployment
        return arn

    def start(self, model: str, tune: bool = False) -> str:
        """Start one execution; return its ARN."""
        arn = self.state_machine(model, tune)
        payload = {"model": model, "mode": "tune" if tune else "train"}
        return self.sfn.start_execution(stateMachineArn=arn, input=json.dumps(payload))["executionArn"]

    def start_mode(self, model: str, mode: str) -> str:
        """Start mode `score` (batch scoring: every player of the model's scoring prefix, with the serving model) or
        `drift` (the drift check of the endpoint's captured players against the training baseline)."""
        arn = self.state_machine(model, tune=False)
        payload = {"model": model, "mode": mode}
        return self.sfn.start_execution(stateMachineArn=arn, input=json.dumps(payload))["executionArn"]

    def start_deploy(self, model: str, model_package_arn: str) -> str:
        """Start the deploy mode: the state machine deploys the version if it is an Approved one of its group."""
        arn = self.state_machine(model, tune=False)
        payload = {"model": model, "mode": "deploy", "model_package_arn": model_package_arn}
        return self.sfn.start_execution(stateMachineArn=arn, input=json.dumps(payload))["executionArn"]

    def states(self, execution_arn: str, poll: float = FOLLOW_SECONDS) -> Iterator[str]:
        """The name of each state as the execution enters it, until it ends."""
        seen = 0
        while True:
            running = self.sfn.describe_execution(executionArn=execution_arn)["status"] == "RUNNING"
            events = list(self._history(execution_arn))
            for event in events[seen:]:
                details = event.get("stateEnteredEventDetails")
                if details:
                    yield details["name"]
            seen = len(events)
            if not running:
                return
            time.sleep(poll)

    def _history(self, execution_arn: str) -> Iterator[dict]:
        kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
        while True:
            page = self.sfn.get_execution_history(**kwargs)
            yield from page["events"]
            if not page.get("nextToken"):
                return
            kwargs["nextToken"] = page["nextToken"]

    def outcome(self, execution_arn: str) -> Outcome:
        described = self.sfn.describe_execution(executionArn=execution_arn)
        status = described["status"]
        if status == "RUNNING":
            raise VwtError(f"execution {execution_arn} is still running", "follow it with --wait")
        output = json.loads(described.get("output") or "{}") if status == "SUCCEEDED" else {}
        return Outcome(execution_arn, status, output, described.get("error"), described.get("cause"))

    def follow(self, execution_arn: str, on_state: Callable[[str], None], poll: float = FOLLOW_SECONDS) -> Outcome:
        """Report each state as it is entered; return how the execution ended. Losing the service meanwhile (the
        local emulator stopped, the network gone) ends with one message saying what became of the run."""
        from botocore.exceptions import ConnectionClosedError, EndpointConnectionError, ReadTimeoutError

        try:
            for name in self.states(execution_arn, poll):
                on_state(name)
            return self.outcome(execution_arn)
        except (EndpointConnectionError, ConnectionClosedError, ReadTimeoutError) as exc:
            if not self.deployment.target.available():  # the local emulator is gone, and the run with its memory
                raise VwtError(
                    f"the local emulator stopped while {execution_arn.rsplit(':', 1)[-1]} was running: the run is "
                    "lost with it (the emulator keeps nothing when it stops)",
                    f"run `vwt-deploy up --env {self.env.name}` to rebuild the environment, then start the run again",
                ) from None
            raise VwtError(
                f"lost the connection to Step Functions while following {execution_arn}: {exc}",
                "the execution goes on without this command: follow it again in the Step Functions console",
            ) from None

    def draw(self, execution_arn: str, taken: Sequence[str]) -> Path:
        """Write the flowchart of the definition the execution ran (DescribeStateMachineForExecution: the version it
        started with, not the machine's latest), with the states it entered and the transitions between them
        highlighted, to .vwt/envs/<env>/runs/<execution name>.mmd; return its path."""
        from botocore.exceptions import ClientError

        from vwt_deploy.build.diagrams import flowchart
        from vwt_deploy.files import write_if_changed

        name = execution_arn.rsplit(":", 1)[-1]
        try:
            described = self.sfn.describe_state_machine_for_execution(executionArn=execution_arn)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise VwtError(
                f"cannot draw the path of {name}: {error.get('Code')}: {error.get('Message')}",
                "drawing needs states:DescribeStateMachineForExecution on the execution",
            ) from None
        text = flowchart(json.loads(described["definition"]), title=f"{described['name']}: {name}", taken=taken)
        return write_if_changed(self.deployment.work / "runs" / f"{name}.mmd", text)
