"""EventBridge schedules for the local emulator, which never fires them: `vwt-deploy local tick`.

A tick fires every enabled schedule rule that is due (or every one, with --all) by starting its
state machine targets with the target's Input, as EventBridge would. "Due" means a fire time of the
rule's schedule lies after the last tick (at the first tick: after the deployment) and not after now;
several fire times missed since the last tick start one execution, not one each.

Schedules are evaluated in UTC, as EventBridge evaluates them:
- `rate(N minute|minutes|hour|hours|day|days)` fires every N units after the deployment (the last `up`
  that applied changes; AWS counts from the rule's creation);
- `cron(minutes hours day-of-month month day-of-week year)` with `*`, `?`, lists, ranges, steps
  (`*/15`, `5/10`, `1-5/2`) and month and weekday names (day-of-week 1-7 is SUN-SAT). `L`, `W` and `#`
  are not evaluated locally: such a rule is reported and not fired (`--all` still fires it).

Why not a library: croniter reads five-field Unix cron (no year, `?`, or SUN=1), and the AWS-cron
parsers on PyPI (pyawscron 1.0.7, aws-croniter) are small one-author projects; pyawscron gives up
with a bare Exception after ten calendar jumps. This evaluator is small and tested.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator, Protocol

from .errors import ConfigError, VwtError

UTC = dt.timezone.utc
_MONTHS = {name: n for n, name in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split(), start=1)}
_WEEKDAYS = {name: n for n, name in enumerate("SUN MON TUE WED THU FRI SAT".split(), start=1)}
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
#: name, lowest, highest, names
_FIELDS = (("minutes", 0, 59, {}), ("hours", 0, 23, {}), ("day-of-month", 1, 31, {}),
           ("month", 1, 12, _MONTHS), ("day-of-week", 1, 7, _WEEKDAYS), ("year", 1970, 2199, {}))


class UnsupportedSchedule(VwtError):
    """A schedule expression this evaluator cannot compute (the rule is reported, not fired)."""


class Schedule(Protocol):
    def next_after(self, t: dt.datetime) -> dt.datetime | None: ...


def _minute(t: dt.datetime) -> dt.datetime:
    return t.astimezone(UTC).replace(second=0, microsecond=0)


@dataclass(frozen=True)
class Rate:
    """rate(N unit): every `every` after `anchor`."""
    every: dt.timedelta
    anchor: dt.datetime

    def next_after(self, t: dt.datetime) -> dt.datetime:
        k = max(1, int((t - self.anchor) // self.every) + 1)
        return self.anchor + k * self.every


@dataclass(frozen=True)
class Cron:
    """A six-field EventBridge cron expression, as sets of allowed values (`days`/`weekdays` None for '?')."""
    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int] | None
    months: frozenset[int]
    weekdays: frozenset[int] | None
    years: frozenset[int]

    def _day_matches(self, day: dt.date) -> bool:
        if self.days is not None:
            return day.day in self.days
        assert self.weekdays is not None
        return (day.weekday() + 1) % 7 + 1 in self.weekdays  # Python: Monday 0; EventBridge: Sunday 1

    def next_after(self, t: dt.datetime) -> dt.datetime | None:
        """The first fire time strictly after t (minute resolution), or None when the years run out."""
        start = _minute(t) + dt.timedelta(minutes=1)
        day = start.date()
        last_year = max(self.years)
        while day.year <= last_year:
            if day.year not in self.years:
                day = dt.date(day.year + 1, 1, 1)
                continue
            if day.month not in self.months:
                day = dt.date(day.year + (day.month == 12), day.month % 12 + 1, 1)
                continue
            if self._day_matches(day):
                earliest = (start.hour, start.minute) if day == start.date() else (0, 0)
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        if (hour, minute) >= earliest:
                            return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
            day += dt.timedelta(days=1)
        return None


def _value(text: str, name: str, low: int, high: int, names: dict[str, int], expr: str) -> int:
    text = text.upper()
    if text in names:
        return names[text]
    if re.search(r"[LW#]", text):
        raise UnsupportedSchedule(f"{expr}: {name} {text!r} uses L, W or #, which local tick does not evaluate",
                                  "fire it with `vwt-deploy local tick --all`, or use a plain cron or rate() locally")
    if not text.isdigit() or not low <= int(text) <= high:
        raise ConfigError(f"{expr}: {text!r} is not a valid {name} value ({low}-{high})",
                          "fix the model's schedule.expression in environments/models.yaml")
    return int(text)


def _field(text: str, name: str, low: int, high: int, names: dict[str, int], expr: str) -> frozenset[int] | None:
    if text == "?":
        if name not in ("day-of-month", "day-of-week"):
            raise ConfigError(f"{expr}: '?' is allowed only in day-of-month and day-of-week", "fix the schedule")
        return None
    values: set[int] = set()
    for item in text.split(","):
        span, _, step_text = item.partition("/")
        step = int(step_text) if step_text.isdigit() and int(step_text) > 0 else None
        if step_text and step is None:
            raise ConfigError(f"{expr}: {item!r} has a bad step in {name}", "a step is a positive number, e.g. */15")
        if span == "*":
            first, last = low, high
        elif "-" in span:
            a, b = span.split("-", 1)
            first, last = _value(a, name, low, high, names, expr), _value(b, name, low, high, names, expr)
        else:
            first = _value(span, name, low, high, names, expr)
            last = high if step else first
        if first > last:
            raise ConfigError(f"{expr}: range {span!r} of {name} runs backwards", "write it from low to high")
        values.update(range(first, last + 1, step or 1))
    return frozenset(values)


def parse(expression: str, anchor: dt.datetime) -> Schedule:
    """A schedule from an EventBridge expression; `anchor` is when a rate() starts counting."""
    expr = expression.strip()
    rate = re.fullmatch(r"rate\((\d+) (minute|hour|day)s?\)", expr)
    if rate:
        if int(rate.group(1)) < 1:
            raise ConfigError(f"{expr}: a rate must be at least 1", "fix the schedule")
        return Rate(dt.timedelta(seconds=int(rate.group(1)) * _UNITS[rate.group(2)]), _minute(anchor))
    if expr.startswith("cron(") and expr.endswith(")"):
        parts = expr[5:-1].split()
        if len(parts) != 6:
            raise ConfigError(f"{expr}: cron needs 6 fields (minutes hours day-of-month month day-of-week year)",
                              "fix the schedule")
        sets = [_field(text, *spec, expr=expr) for text, spec in zip(parts, _FIELDS)]
        if (sets[2] is None) == (sets[4] is None):
            raise ConfigError(f"{expr}: exactly one of day-of-month and day-of-week must be '?'", "fix the schedule")
        return Cron(expr, *sets)  # type: ignore[arg-type]
    raise ConfigError(f"{expr!r} is not a schedule expression", "use rate(N unit) or cron(m h dom mon dow year)")


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

    def __init__(self, events, sfn, state_path: Path, deployed_at: dt.datetime):
        self.events, self.sfn = events, sfn
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
        return json.dumps({  # what EventBridge sends a target with no Input: the scheduled event
            "version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
            "account": rule["Arn"].split(":")[4], "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": rule["Arn"].split(":")[3],
            "resources": [rule["Arn"]], "detail": {}})

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
            except VwtError as exc:
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
                    result.skipped.append({"rule": name, "reason": f"target {arn} is not a state machine "
                                                                   "(local tick starts state machines only)"})
                    continue
                if target.get("InputPath") or target.get("InputTransformer"):
                    result.skipped.append({"rule": name, "reason": f"target {arn} uses InputPath or an "
                                                                   "InputTransformer, which local tick does not apply"})
                    continue
                started = self.sfn.start_execution(stateMachineArn=arn, input=self._input(rule, target, now))
                result.fired.append({"rule": name, "expression": expr, "state_machine_arn": arn,
                                     "execution_arn": started["executionArn"],
                                     "due": _iso(due) if due and due <= now else None})
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_name(self.state_path.name + ".tmp")
        tmp.write_text(json.dumps({"last_tick": now.isoformat()}))
        tmp.replace(self.state_path)
        return result


def ticker(deployment) -> Ticker:
    """The Ticker of a deployed local environment (schedules of AWS environments fire in AWS)."""
    from .retrain import deployed_outputs, not_deployed

    env = deployment.env
    if not env.is_local:
        raise ConfigError(f"`local tick` fires the schedules of the local emulator; {env.name} runs in AWS, "
                          "where EventBridge fires them", "use --env local, or start a run with `vwt-deploy retrain`")
    deployed_outputs(deployment)
    target = deployment.target
    if not target.marker.exists():  # written by every `up` that applied changes
        raise not_deployed(env.name)
    deployed_at = dt.datetime.fromtimestamp(target.marker.stat().st_mtime, UTC)
    return Ticker(target.client("events"), target.client("stepfunctions"), deployment.work / "schedules.json",
                  deployed_at)
