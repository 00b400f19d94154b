"""Per model, what `vwt-deploy status` shows the risk team: the serving version, the last training, the last batch
scoring and the last drift check (each: when, how it ended), and every alarm of the model that is in ALARM.

Read with plain AWS calls through the deployment target's clients (the emulator's for local): the model's
current-model SSM record (what serves), its state machine's recent executions (their input names the mode),
and CloudWatch's alarms in ALARM whose name carries the model's endpoint, prediction or retraining prefix.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from vwt_deploy.deploy.pipeline import Deployment

#: executions looked at per model, newest first: enough to find the last run of each kind on a busy model
RECENT_EXECUTIONS = 25
#: execution input mode -> the summary's key
KINDS = {"train": "last_training", "tune": "last_training", "score": "last_scoring", "drift": "last_drift_check"}


def _run(execution: Mapping[str, Any], mode: str) -> dict[str, Any]:
    out = {
        "mode": mode,
        "status": execution["status"],
        "started": execution["startDate"].isoformat(timespec="seconds"),
        "execution": execution["executionArn"].rsplit(":", 1)[-1],
    }
    if execution.get("stopDate"):
        out["ended"] = execution["stopDate"].isoformat(timespec="seconds")
    return out


def _serving(ssm: Any, parameter: str) -> dict[str, Any]:
    try:
        record = json.loads(ssm.get_parameter(Name=parameter)["Parameter"]["Value"])
    except Exception:  # noqa: BLE001 - not deployed yet, or unreadable: reported as unknown, never a failure
        return {"version": None}
    return {
        "version": record.get("version"),
        "training_job": record.get("training_job"),
        "model_name": record.get("model_name"),
    }


def _runs(sfn: Any, state_machine: str | None) -> dict[str, Any]:
    found: dict[str, Any] = dict.fromkeys(sorted(set(KINDS.values())))
    if not state_machine:
        return found
    executions = sfn.list_executions(stateMachineArn=state_machine, maxResults=RECENT_EXECUTIONS)["executions"]
    for execution in sorted(executions, key=lambda e: e["startDate"], reverse=True):
        if all(found.values()):
            break
        try:
            mode = json.loads(sfn.describe_execution(executionArn=execution["executionArn"]).get("input") or "{}")
            mode = mode.get("mode") if isinstance(mode, dict) else None
        except ValueError:
            mode = None
        key = KINDS.get(mode or "")
        if key and found[key] is None:
            found[key] = _run(execution, mode or "")
    return found


def _alarms(cloudwatch: Any, prefix: str) -> list[str]:
    names: list[str] = []
    for page in cloudwatch.get_paginator("describe_alarms").paginate(StateValue="ALARM", AlarmNamePrefix=prefix):
        names += [a["AlarmName"] for a in page.get("MetricAlarms", [])]
    return sorted(names)


def overview(deployment: Deployment, outputs: Mapping[str, Any]) -> dict[str, Any]:
    """{"models": model -> its summary, "alarms": every alarm of the environment in ALARM}."""
    env, target = deployment.env, deployment.target
    ssm, sfn, cloudwatch = target.client("ssm"), target.client("stepfunctions"), target.client("cloudwatch")
    parameters = f"/{env.name_prefix}/current-model/"
    in_alarm = _alarms(cloudwatch, env.name_prefix)
    machines = outputs.get("state_machine_arns") or {}
    names = [m.name for m in env.catalogue.models]
    marks = {m: (f"{env.endpoint_name(m)}-", f"{env.name_prefix}-predict-{m}-") for m in names}
    owner: dict[str, str] = {}
    for alarm in in_alarm:  # the longest model name whose marks start the alarm's name (gb vs gb-problem)
        matching = [m for m in names if alarm.startswith(marks[m])]
        if matching:
            owner[alarm] = max(matching, key=len)
    models = {
        m: {
            "serving": _serving(ssm, parameters + m),
            **_runs(sfn, machines.get(m)),
            "alarms": [a for a in in_alarm if owner.get(a) == m],
        }
        for m in names
    }
    return {"models": models, "alarms": in_alarm}


def lines(summary: Mapping[str, Any]) -> list[str]:
    """The overview as `status` prints it: one block per model."""
    out = []
    for model, s in summary["models"].items():
        serving = s["serving"]
        version = serving.get("version")
        what = f"version {version}" if version not in (None, "baseline", "none") else (version or "unknown")
        if serving.get("training_job"):
            what += f" (training job {serving['training_job']})"
        out.append(f"{model}: serving {what}")
        for key, label in (("last_training", "training"), ("last_scoring", "scoring"), ("last_drift_check", "drift")):
            run = s.get(key)
            out.append(
                f"  last {label}: "
                + (
                    f"{run['status'].lower()} {run.get('ended') or run['started']} ({run['execution']})"
                    if run
                    else "never"
                )
            )
        out.append("  alarms: " + (", ".join(s["alarms"]) if s["alarms"] else "none in ALARM"))
    others = [a for a in summary["alarms"] if not any(a in s["alarms"] for s in summary["models"].values())]
    if others:
        out.append("environment alarms in ALARM: " + ", ".join(others))
    return out
