"""EventBridge schedule expressions: one grammar, used to check the catalogue and to evaluate fire times.

Evaluated in UTC, as EventBridge evaluates them:
- `rate(N minute|minutes|hour|hours|day|days)`: the singular unit for 1, the plural otherwise; it fires
  every N units after an anchor (locally, the last `up` that applied changes; AWS counts from the rule's
  creation);
- `cron(minutes hours day-of-month month day-of-week year)` with `*`, `?`, lists, ranges, steps
  (`*/15`, `5/10`, `1-5/2`) and month and weekday names (day-of-week 1-7 is SUN-SAT; years 1970-2199).
  `L`, `W` and `#` are valid EventBridge syntax and are checked as such, but not evaluated:
  `parse` raises `UnsupportedSchedule` for them.

Why not a library: croniter reads five-field Unix cron (no year, `?`, or SUN=1), and the AWS-cron
parsers on PyPI (pyawscron 1.0.7, aws-croniter) are small one-author projects; pyawscron gives up
with a bare Exception after ten calendar jumps. This evaluator is small and tested.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Protocol

from vwt_deploy.errors import ConfigError, VwtError

UTC = dt.timezone.utc
_MONTHS = {
    name: n
    for n, name in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], start=1
    )
}
_WEEKDAYS = {name: n for n, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], start=1)}
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
_RATE = re.compile(r"rate\((\d+) (minute|hour|day)(s?)\)")
#: the forms of L, W and # EventBridge accepts, per field
_SPECIAL = {
    "day-of-month": re.compile(r"L|LW|([1-9]|[12]\d|3[01])W"),
    "day-of-week": re.compile(r"([1-7]|SUN|MON|TUE|WED|THU|FRI|SAT)(L|#[1-5])"),
}
#: name, lowest, highest, names
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minutes", 0, 59, {}),
    ("hours", 0, 23, {}),
    ("day-of-month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 1, 7, _WEEKDAYS),
    ("year", 1970, 2199, {}),
)
_FIX = "fix the model's schedule.expression in environments/models.yaml"


class ScheduleError(ConfigError):
    """The expression is not valid EventBridge syntax."""


class UnsupportedSchedule(VwtError):
    """A valid expression this evaluator cannot compute (L, W, #): the rule is reported, not fired."""


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

    def _first_time(self, day: dt.date, start: dt.datetime) -> dt.datetime | None:
        earliest = (start.hour, start.minute) if day == start.date() else (0, 0)
        for hour in sorted(self.hours):
            for minute in sorted(self.minutes):
                if (hour, minute) >= earliest:
                    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
        return None

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
                found = self._first_time(day, start)
                if found:
                    return found
            day += dt.timedelta(days=1)
        return None


def _special(text: str, name: str, expr: str) -> None:
    """L, W or #: checked against EventBridge's forms, then reported as not evaluated."""
    pattern = _SPECIAL.get(name)
    if pattern is None or not all(pattern.fullmatch(item) for item in text.split(",")):
        raise ScheduleError(f"{expr}: {text!r} is not a valid {name} field", _FIX)
    raise UnsupportedSchedule(
        f"{expr}: {name} {text!r} uses L, W or #, which local tick does not evaluate",
        "fire it with `vwt-deploy local tick --all`, or use a plain cron or rate() locally",
    )


def _value(text: str, name: str, low: int, high: int, names: dict[str, int], expr: str) -> int:
    if text in names:
        return names[text]
    if not text.isdigit() or not low <= int(text) <= high:
        raise ScheduleError(f"{expr}: {text!r} is not a valid {name} value ({low}-{high})", _FIX)
    return int(text)


def _span(item: str, name: str, low: int, high: int, names: dict[str, int], expr: str) -> range:
    span, _, step_text = item.partition("/")
    step = int(step_text) if step_text.isdigit() and int(step_text) > 0 else None
    if step_text and step is None:
        raise ScheduleError(f"{expr}: {item!r} has a bad step in {name}", "a step is a positive number, e.g. */15")
    if span == "*":
        first, last = low, high
    elif "-" in span:
        a, b = span.split("-", 1)
        first, last = _value(a, name, low, high, names, expr), _value(b, name, low, high, names, expr)
    else:
        first = _value(span, name, low, high, names, expr)
        last = high if step else first
    if first > last:
        raise ScheduleError(f"{expr}: range {span!r} of {name} runs backwards", "write it from low to high")
    return range(first, last + 1, step or 1)


def _field(text: str, name: str, low: int, high: int, names: dict[str, int], expr: str) -> frozenset[int] | None:
    text = text.upper()
    if text == "?":
        if name not in ("day-of-month", "day-of-week"):
            raise ScheduleError(f"{expr}: '?' is allowed only in day-of-month and day-of-week", _FIX)
        return None
    if re.search(r"[LW#]", re.sub(r"[A-Z]{3}", lambda m: "" if m.group() in names else m.group(), text)):
        _special(text, name, expr)
    values: set[int] = set()
    for item in text.split(","):
        values.update(_span(item, name, low, high, names, expr))
    return frozenset(values)


def _rate(expr: str, match: re.Match, anchor: dt.datetime) -> Rate:
    value, unit, plural = int(match.group(1)), match.group(2), match.group(3)
    if value < 1:
        raise ScheduleError(f"{expr}: a rate must be at least 1", _FIX)
    if (value == 1) == bool(plural):
        raise ScheduleError(
            f"{expr}: use the singular unit for 1 and the plural otherwise (rate(1 day), rate(7 days))", _FIX
        )
    return Rate(dt.timedelta(seconds=value * _UNITS[unit]), _minute(anchor))


def parse(expression: str, anchor: dt.datetime) -> Schedule:
    """A schedule from an EventBridge expression; `anchor` is when a rate() starts counting.

    Raises ScheduleError for invalid syntax and UnsupportedSchedule for valid L, W or # fields."""
    expr = expression.strip()
    rate = _RATE.fullmatch(expr)
    if rate:
        return _rate(expr, rate, anchor)
    if expr.startswith("cron(") and expr.endswith(")"):
        parts = expr[5:-1].split()
        if len(parts) != 6:
            raise ScheduleError(
                f"{expr}: cron needs 6 fields (minutes hours day-of-month month day-of-week year), got {len(parts)}",
                _FIX,
            )
        if (parts[2] == "?") == (parts[4] == "?"):
            raise ScheduleError(f"{expr}: exactly one of day-of-month and day-of-week must be '?'", _FIX)
        sets = [_field(text, *spec, expr=expr) for text, spec in zip(parts, _FIELDS, strict=True)]
        return Cron(expr, *sets)  # type: ignore[arg-type]  # only day fields may be None ('?'), checked above
    raise ScheduleError(
        f"{expr!r} is not a schedule expression; use rate(N minutes|hours|days) or cron(m h dom mon dow year)", _FIX
    )


def check_schedule_expression(expr: str) -> str:
    """Check an EventBridge expression for the catalogue; return it or raise ValueError with the reason."""
    try:
        parse(expr, dt.datetime(1970, 1, 1, tzinfo=UTC))
    except UnsupportedSchedule:
        pass  # valid EventBridge syntax that only the local evaluator does not compute
    except ScheduleError as exc:
        raise ValueError(exc.message) from None
    return expr.strip()
