"""EventBridge events that AWS services send, sent here too: SageMaker's "Model Package State Change".

On AWS, SageMaker sends an event to the account's default event bus when a model package is created or its
approval changes (SageMaker developer guide, "Events that SageMaker sends to EventBridge": source
`aws.sagemaker`, detail-type `SageMaker Model Package State Change`, the package's ARN in `resources`, its
description in `detail`). moto sends none, and its rules deliver to logs, SQS and buses only (a Step Functions
target raises NotImplementedError). This module sends the event after moto's CreateModelPackage (a new version
only: a retried call with the same ClientToken registers nothing) and UpdateModelPackage, matches it against
the enabled rules of the default bus with moto's own event-pattern matching, shapes each target's input as
EventBridge does (Input, InputPath, or InputTransformer through moto's template parser), and starts the
target state machine as EventBridge would: with a session of the target's role, which the role's trust policy
must allow `events.amazonaws.com` to assume and whose policy must allow states:StartExecution (the emulator's
IAM enforcement decides both). Delivery runs on its own thread, as EventBridge delivers after the call returns.

Targets other than state machines are not delivered (the project routes these events to state machines only);
a rule with such a target is logged, not failed.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from vwt_deploy.emulator.runtime import patching

if TYPE_CHECKING:
    from vwt_deploy.emulator.runtime import Runtime

log = logging.getLogger("vwt_deploy.emulator.runtime.events")

SOURCE = "aws.sagemaker"
DETAIL_TYPE = "SageMaker Model Package State Change"
EVENTS_PRINCIPAL = "events.amazonaws.com"


def _targets() -> dict[type, tuple[str, ...]]:
    from moto.sagemaker.responses import SageMakerResponse

    return {SageMakerResponse: ("create_model_package", "update_model_package")}


def install(runtime: Runtime) -> None:
    """Send the registry's state-change events from moto's SageMaker (again: the patches are replaced)."""
    from moto.sagemaker.responses import SageMakerResponse

    bus = EventBus(runtime)
    patching.patch(SageMakerResponse, "create_model_package", lambda original: _sending(original, bus, new_only=True))
    patching.patch(SageMakerResponse, "update_model_package", lambda original: _sending(original, bus, new_only=False))


def uninstall() -> None:
    for owner, names in _targets().items():
        for name in names:
            patching.restore(owner, name)


def _sending(original: Callable, bus: EventBus, new_only: bool) -> Callable:
    def respond(self):
        backend = self.sagemaker_backend
        before = len(backend.model_packages)
        result = original(self)
        if new_only and len(backend.model_packages) == before:
            return result  # the same ClientToken again: nothing was registered, nothing changed
        arn = result.result["ModelPackageArn"]
        package = backend.describe_model_package(arn)
        bus.send(self.current_account, self.region, model_package_event(package, self.current_account, self.region))
        return result

    return respond


def model_package_event(package: Any, account: str, region: str) -> dict[str, Any]:
    """The event SageMaker sends for a model package (its description as `detail`)."""
    detail = json.loads(json.dumps(package.gen_response_object(), default=str))
    now = dt.datetime.now(dt.timezone.utc)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": DETAIL_TYPE,
        "source": SOURCE,
        "account": account,
        "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [package.arn],
        "detail": detail,
        "ingestion-time": time.time(),  # moto's template parser offers it as <aws.events.event.ingestion-time>
    }


class EventBus:
    """Delivers service events to the default bus's matching rules' state machine targets."""

    def __init__(self, runtime: Runtime):
        self.runtime = runtime

    def send(self, account: str, region: str, event: dict[str, Any]) -> threading.Thread:
        thread = threading.Thread(target=self.deliver, args=(account, region, event), name="events", daemon=True)
        thread.start()
        return thread

    def deliver(self, account: str, region: str, event: dict[str, Any]) -> list[str]:
        """Start each matching state machine target; return the executions started."""
        from moto.events.models import events_backends

        started = []
        rules = list(events_backends[account][region].event_buses["default"].rules.values())
        for rule in rules:
            if rule.state != "ENABLED" or not rule.event_pattern.get_pattern():
                continue
            if not rule.event_pattern.matches_event(event):
                continue
            for target in rule.targets:
                try:
                    execution = self._start(rule, target, event, region)
                except Exception as exc:  # noqa: BLE001 - EventBridge retries, then drops: logged, never raised
                    log.warning("rule %s: target %s not invoked: %s", rule.name, target.get("Arn"), exc)
                    continue
                if execution:
                    started.append(execution)
        return started

    def _start(self, rule: Any, target: dict[str, Any], event: dict[str, Any], region: str) -> str | None:
        arn = target["Arn"]
        if ":states:" not in arn or ":stateMachine:" not in arn:
            log.info(
                "rule %s: target %s is not a state machine; the emulator delivers to state machines only",
                rule.name,
                arn,
            )
            return None
        role = target.get("RoleArn")
        if not role:
            raise ValueError("a Step Functions target needs a RoleArn (EventBridge PutTargets)")
        payload = target_input(target, event)
        credentials = self.runtime.sessions.assume(
            role, "EventBridge", EVENTS_PRINCIPAL, {"aws:SourceAccount": rule.account_id, "aws:SourceArn": rule.arn}
        )
        sfn = self.runtime.client("stepfunctions", region, credentials)
        return sfn.start_execution(stateMachineArn=arn, input=json.dumps(payload))["executionArn"]


def target_input(target: dict[str, Any], event: dict[str, Any]) -> Any:
    """What EventBridge passes to a target: its constant Input, the InputPath's part, the InputTransformer's
    rendering, or the event itself (EventBridge API reference, Target)."""
    from moto.events.utils import EventTemplateParser

    if target.get("Input"):
        return json.loads(target["Input"])
    if target.get("InputPath"):
        from jsonpath_ng.ext import parse

        found = parse(target["InputPath"]).find(event)
        return found[0].value if found else None
    transformer = target.get("InputTransformer")
    if transformer:
        return EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event=event,
        )
    return {k: v for k, v in event.items() if k != "ingestion-time"}
