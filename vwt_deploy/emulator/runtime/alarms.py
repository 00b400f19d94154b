"""CloudWatch alarms that change state, as CloudWatch's do: moto stores metric data and alarms but never
evaluates one, so an alarm stays OK whatever its metric says.

After each PutMetricData, every alarm of the same namespace, metric and dimensions (a single-metric alarm with a
statistic: the kind the framework defines) is evaluated as CloudWatch documents it ("Evaluating an alarm"): the
metric's statistic per period over the last `evaluation_periods` periods, a period breaching when the statistic
compares with the threshold as `comparison_operator` says, ALARM when at least `datapoints_to_alarm` (default:
all) periods breach, OK otherwise; periods without data count as `treat_missing_data` says (missing: ignored;
notBreaching: good; breaching: bad). On a change of state the alarm's actions for the new state are run: an SNS
topic receives CloudWatch's notification (its JSON message, subject `ALARM: "<name>" in <region>`).

What differs from AWS: CloudWatch evaluates every minute, also without new data; here an alarm is evaluated when
its metric receives data, so an alarm in ALARM stays there until data that does not breach arrives. Metric math
and anomaly-detection alarms are not evaluated.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import operator
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from vwt_deploy.emulator.runtime import patching

if TYPE_CHECKING:
    from vwt_deploy.emulator.runtime import Runtime

log = logging.getLogger("vwt_deploy.emulator.runtime.alarms")

COMPARE: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanOrEqualToThreshold": operator.ge,
    "GreaterThanThreshold": operator.gt,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}


def _statistic(name: str | None, extended: str | None, values: list[float]) -> float:
    if extended:  # pNN
        ordered = sorted(values)
        rank = float(extended[1:]) / 100 * (len(ordered) - 1)
        low, high = math.floor(rank), math.ceil(rank)
        return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
    return {
        "Sum": sum,
        "Maximum": max,
        "Minimum": min,
        "Average": lambda v: sum(v) / len(v),
        "SampleCount": len,
    }[name or "Average"](values)


def _dims(items) -> frozenset[tuple[str, str]]:
    return frozenset((d.name, d.value) for d in items)


def evaluate(backend, alarm, now: dt.datetime) -> tuple[str, str] | None:
    """(new state, reason) of one alarm from the backend's metric data, or None when it cannot be evaluated here."""
    if not alarm.metric_name or alarm.metric_data_queries or alarm.comparison_operator not in COMPARE:
        return None
    period = int(alarm.period or 60)
    periods = int(alarm.evaluation_periods or 1)
    needed = int(alarm.datapoints_to_alarm or periods)
    start = now - dt.timedelta(seconds=period * periods)
    wanted = _dims(alarm.dimensions)
    buckets: dict[int, list[float]] = {}
    for datum in backend.metric_data:
        if datum.namespace != alarm.namespace or datum.name != alarm.metric_name or _dims(datum.dimensions) != wanted:
            continue
        stamp = datum.timestamp if datum.timestamp.tzinfo else datum.timestamp.replace(tzinfo=dt.timezone.utc)
        if start < stamp <= now:
            index = int((now - stamp).total_seconds() // period)
            buckets.setdefault(index, []).append(float(datum.value))
    compare, threshold = COMPARE[alarm.comparison_operator], float(alarm.threshold)
    breaching = missing = 0
    values = {}
    for index in range(periods):
        if index not in buckets:
            missing += 1
            continue
        value = values[index] = _statistic(alarm.statistic, alarm.extended_statistic, buckets[index])
        breaching += compare(value, threshold)
    if alarm.treat_missing_data == "breaching":
        breaching += missing
    elif not values and alarm.treat_missing_data in (None, "missing"):
        return None  # no data at all: the state is kept
    shown = ", ".join(f"{v:g}" for _, v in sorted(values.items()))
    reason = (
        f"Threshold Crossed: {breaching} out of the last {periods} datapoints [{shown}] "
        f"{'were' if breaching >= needed else 'were not'} {alarm.comparison_operator} the threshold ({threshold:g})"
    )
    return ("ALARM" if breaching >= needed else "OK"), reason


def install(runtime: Runtime) -> None:
    from moto.cloudwatch.models import CloudWatchBackend

    patching.patch(CloudWatchBackend, "put_metric_data", lambda original: _evaluating(original, runtime))


def uninstall() -> None:
    from moto.cloudwatch.models import CloudWatchBackend

    patching.restore(CloudWatchBackend, "put_metric_data")


def _evaluating(original: Callable, runtime: Runtime) -> Callable:
    def put_metric_data(self, namespace: str, metric_data: list[dict[str, Any]]) -> None:
        original(self, namespace, metric_data)
        names = {m["MetricName"] for m in metric_data}
        now = dt.datetime.now(dt.timezone.utc)
        for alarm in list(self.alarms.values()):
            if alarm.namespace != namespace or alarm.metric_name not in names:
                continue
            decided = evaluate(self, alarm, now)
            if decided is None or decided[0] == alarm.state_value:
                continue
            state, reason = decided
            previous = alarm.state_value
            alarm.update_state(reason, json.dumps({"version": "1.0"}), state)
            log.info("alarm %s: %s -> %s (%s)", alarm.name, previous, state, reason)
            _notify(runtime, self, alarm, previous, now)

    return put_metric_data


def _notify(runtime: Runtime, backend, alarm, previous: str, now: dt.datetime) -> None:
    """Publish CloudWatch's notification to the SNS topics of the new state's actions."""
    if not alarm.actions_enabled:
        return
    actions = alarm.alarm_actions if alarm.state_value == "ALARM" else alarm.ok_actions
    topics = [a for a in actions or [] if a.startswith("arn:aws:sns:")]
    if not topics:
        return
    from moto.sns.models import sns_backends

    message = json.dumps(
        {
            "AlarmName": alarm.name,
            "AlarmDescription": alarm.description,
            "AWSAccountId": backend.account_id,
            "NewStateValue": alarm.state_value,
            "NewStateReason": alarm.state_reason,
            "StateChangeTime": now.isoformat(),
            "Region": backend.region_name,
            "AlarmArn": alarm.alarm_arn,
            "OldStateValue": previous,
            "Trigger": {
                "MetricName": alarm.metric_name,
                "Namespace": alarm.namespace,
                "Statistic": (alarm.statistic or "").upper(),
                "Dimensions": [{"name": d.name, "value": d.value} for d in alarm.dimensions],
                "Period": alarm.period,
                "EvaluationPeriods": alarm.evaluation_periods,
                "ComparisonOperator": alarm.comparison_operator,
                "Threshold": alarm.threshold,
            },
        }
    )
    for topic in topics:
        account, region = topic.split(":")[4], topic.split(":")[3]
        try:  # CloudWatch publishes as its service principal, which the topic's policy lets in
            sns_backends[account][region].publish(
                message, arn=topic, subject=f'{alarm.state_value}: "{alarm.name}" in {region}'[:100]
            )
        except Exception as exc:  # noqa: BLE001 - a topic that is gone: CloudWatch logs the failed action
            log.warning("alarm %s: could not notify %s: %s", alarm.name, topic, exc)
