"""EventBridge schedules for the local emulator, which never fires them: `vwt-deploy local tick`.

A tick fires every enabled schedule rule that is due (or every one, with --all) by starting its
state machine targets with the target's Input, as EventBridge would. "Due" means a fire time of the
rule's schedule lies after the last tick (at the first tick: after the deployment) and not after now;
several fire times missed since the last tick start one execution, not one each. The expressions are
evaluated by the configuration's one schedule grammar (`vwt_deploy.config.schedule`): in UTC, a rate()
counting from the deployment (the last `up` that applied changes), L, W and # reported, not fired.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vwt_deploy.config.schedule import UTC, ScheduleError, UnsupportedSchedule, parse
from vwt_deploy.deploy.pipeline import Deployment, not_deployed
from vwt_deploy.deploy.targets import assumed_client
from vwt_deploy.errors import ConfigError
from vwt_deploy.files import write_if_changed

# --------------------------------------------------------------------------- the tick


@dataclass
class TickResult:
    now: str
    since: str
    fired: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    next_due: dict[str, str | None] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        out = [f"tick at {self.now} (schedules due after {self.since})"]
        out += [f"fired {f['rule']} ({f['expression']}): {f['execution_arn']}" for f in self.fired]
        if not self.fired:
            out.append("nothing was due")
        out += [f"not fired {s['rule']}: {s['reason']}" for s in self.skipped]
        out += [f"next due {rule}: {when or 'never'}" for rule, when in sorted(self.next_due.items())]
        return out


def _iso(t: dt.datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="seconds")


class Ticker:
    """Fires the emulator's due schedule rules; remembers the last tick in `state_path`."""

    def __init__(self, events, sfn_as: Callable[[str], Any], state_path: Path, deployed_at: dt.datetime):
        """`sfn_as(role_arn)`: a Step Functions client acting as a session of the target's role (EventBridge starts
        a state machine target with the role the target names)."""
        self.events, self.sfn_as = events, sfn_as
        self.state_path = state_path
        self.deployed_at = deployed_at

    def last_tick(self) -> dt.datetime:
        try:
            last = dt.datetime.fromisoformat(json.loads(self.state_path.read_text())["last_tick"])
        except (OSError, ValueError, KeyError):
            return self.deployed_at
        return max(last, self.deployed_at)  # a tick before a new deployment counts from the deployment

    def _rules(self) -> Iterator[dict]:
        kwargs: dict[str, Any] = {}
        while True:
            page = self.events.list_rules(**kwargs)
            yield from (r for r in page["Rules"] if r.get("ScheduleExpression"))
            if not page.get("NextToken"):
                return
            kwargs["NextToken"] = page["NextToken"]

    def _input(self, rule: dict, target: dict, now: dt.datetime) -> str:
        if target.get("Input") is not None:
            return target["Input"]
        return json.dumps(
            {  # what EventBridge sends a target with no Input: the scheduled event
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "account": rule["Arn"].split(":")[4],
                "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "region": rule["Arn"].split(":")[3],
                "resources": [rule["Arn"]],
                "detail": {},
            }
        )

    def tick(self, now: dt.datetime | None = None, fire_all: bool = False) -> TickResult:
        now = (now or dt.datetime.now(UTC)).astimezone(UTC)
        since = self.last_tick()
        result = TickResult(now=_iso(now), since=_iso(since))
        for rule in self._rules():
            name, expr = rule["Name"], rule["ScheduleExpression"]
            if rule.get("State", "ENABLED") != "ENABLED":
                result.skipped.append({"rule": name, "reason": f"{rule.get('State')} (EventBridge would not fire it)"})
                continue
            try:
                schedule = parse(expr, self.deployed_at)
            except (ScheduleError, UnsupportedSchedule) as exc:
                result.skipped.append({"rule": name, "reason": exc.message})
                continue
            upcoming = schedule.next_after(now)
            result.next_due[name] = _iso(upcoming) if upcoming else None
            due = schedule.next_after(since)
            if not fire_all and (due is None or due > now):
                continue
            for target in self.events.list_targets_by_rule(Rule=name)["Targets"]:
                arn = target["Arn"]
                if ":states:" not in arn or ":stateMachine:" not in arn:
                    result.skipped.append(
                        {
                            "rule": name,
                            "reason": f"target {arn} is not a state machine (local tick starts state machines only)",
                        }
                    )
                    continue
                if target.get("InputPath") or target.get("InputTransformer"):
                    result.skipped.append(
                        {
                            "rule": name,
                            "reason": f"target {arn} uses InputPath or an "
                            "InputTransformer, which local tick does not apply",
                        }
                    )
                    continue
                if not target.get("RoleArn"):
                    result.skipped.append(
                        {"rule": name, "reason": f"target {arn} has no RoleArn (EventBridge needs one to start it)"}
                    )
                    continue
                sfn = self.sfn_as(target["RoleArn"])
                started = sfn.start_execution(stateMachineArn=arn, input=self._input(rule, target, now))
                result.fired.append(
                    {
                        "rule": name,
                        "expression": expr,
                        "state_machine_arn": arn,
                        "execution_arn": started["executionArn"],
                        "due": _iso(due) if due and due <= now else None,
                    }
                )
        write_if_changed(self.state_path, json.dumps({"last_tick": now.isoformat()}))
        return result


def ticker(deployment: Deployment) -> Ticker:
    """The Ticker of a deployed environment whose schedules nothing else fires (the local emulator)."""
    env, target = deployment.env, deployment.target
    if not target.fires_schedules:
        raise ConfigError(
            f"`local tick` fires the schedules of the local emulator; {env.name} runs in AWS, "
            "where EventBridge fires them",
            "use --env local, or start a run with `vwt-deploy retrain`",
        )
    deployment.deployed_outputs()
    deployed_at = target.deployed_at()
    if deployed_at is None:  # recorded by every `up` that applied changes
        raise not_deployed(env.name)
    return Ticker(
        target.client("events"),
        lambda role: assumed_client(target, "stepfunctions", role, "EventBridge"),
        deployment.work / "schedules.json",
        deployed_at,
    )
