"""Schedules: when rate() and cron() rules are due (fixed times), and `vwt-deploy local tick` firing the
emulator's rules, which moto never fires."""

from __future__ import annotations

import datetime as dt
import json
import os

import pytest
from click.testing import CliRunner

from tests.helpers import ACCOUNT
from tests.helpers.stepfunctions import write_outputs
from vwt_deploy.cli import main
from vwt_deploy.config.schedule import UnsupportedSchedule, parse
from vwt_deploy.errors import ConfigError

UTC = dt.timezone.utc
DEPLOYED = dt.datetime(2026, 11, 27, 12, 0, 30, tzinfo=UTC)  # a Friday


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def fires(expr: str, after: dt.datetime, n: int = 3) -> list[dt.datetime]:
    schedule, out = parse(expr, DEPLOYED), []
    for _ in range(n):
        after = schedule.next_after(after)
        out.append(after)
    return out


# --------------------------------------------------------------------------- due times


def test_rate_fires_every_period_after_the_deployment():
    assert fires("rate(7 days)", DEPLOYED, 2) == [at(2026, 12, 4, 12, 0), at(2026, 12, 11, 12, 0)]
    assert fires("rate(1 hour)", at(2026, 11, 27, 15, 10), 1) == [at(2026, 11, 27, 16, 0)]
    assert fires("rate(15 minutes)", at(2026, 11, 27, 12, 15), 1) == [at(2026, 11, 27, 12, 30)]  # strictly after


def test_cron_on_a_weekday_counts_sunday_as_1():
    # the catalogue's bid-problem-gambling schedule: Mondays at 03:00
    assert fires("cron(0 3 ? * MON *)", DEPLOYED, 2) == [at(2026, 11, 30, 3, 0), at(2026, 12, 7, 3, 0)]
    assert fires("cron(0 3 ? * 2 *)", DEPLOYED, 1) == [at(2026, 11, 30, 3, 0)]
    assert fires("cron(0 3 ? * 1 *)", DEPLOYED, 1) == [at(2026, 11, 29, 3, 0)]  # Sunday


def test_cron_daily_lists_ranges_and_steps():
    assert fires("cron(0 2 * * ? *)", DEPLOYED, 2) == [at(2026, 11, 28, 2, 0), at(2026, 11, 29, 2, 0)]
    assert fires("cron(*/20 9-10 ? * MON-FRI *)", at(2026, 11, 27, 10, 30), 3) == [
        at(2026, 11, 27, 10, 40),
        at(2026, 11, 30, 9, 0),
        at(2026, 11, 30, 9, 20),
    ]
    assert fires("cron(5/30 0,12 1 JAN,jul ? *)", at(2026, 11, 27), 3) == [
        at(2027, 1, 1, 0, 5),
        at(2027, 1, 1, 0, 35),
        at(2027, 1, 1, 12, 5),
    ]
    assert fires("cron(0 0 29 2 ? *)", DEPLOYED, 1) == [at(2028, 2, 29, 0, 0)]  # leap day only


def test_cron_years_run_out():
    schedule = parse("cron(0 0 1 1 ? 2027)", DEPLOYED)
    assert schedule.next_after(DEPLOYED) == at(2027, 1, 1, 0, 0)
    assert schedule.next_after(at(2027, 1, 1, 0, 0)) is None


@pytest.mark.parametrize(
    "expr", ["cron(0 3 L * ? *)", "cron(0 3 15W * ? *)", "cron(0 3 ? * MON#2 *)", "cron(0 3 ? * 6L *)"]
)
def test_l_w_and_hash_are_named_as_unsupported(expr):
    with pytest.raises(UnsupportedSchedule, match="uses L, W or #"):
        parse(expr, DEPLOYED)


@pytest.mark.parametrize(
    "expr, message",
    [
        ("cron(0 3 * * *)", "needs 6 fields"),
        ("cron(0 3 * * MON *)", "exactly one of day-of-month and day-of-week"),
        ("cron(61 3 * * ? *)", "not a valid minutes value"),
        ("cron(0 5-3 * * ? *)", "runs backwards"),
        ("cron(*/0 3 * * ? *)", "bad step"),
        ("every day", "not a schedule expression"),
    ],
)
def test_bad_expressions_say_what_is_wrong(expr, message):
    with pytest.raises(ConfigError, match=message):
        parse(expr, DEPLOYED)


# --------------------------------------------------------------------------- local tick on the emulator


def cli(project, *args: str):
    return CliRunner().invoke(main, ["--project-dir", str(project), *args])


@pytest.fixture(scope="module")
def scheduled(deployed_project):
    """Three rules as the retraining module creates them, deployed two hours ago: an hourly one (due), a yearly
    one (not due), a disabled one; each targets a state machine with {"model", "mode"} as input."""
    root, client = deployed_project
    sfn, events = client("stepfunctions"), client("events")
    machine = sfn.create_state_machine(
        name="scheduled",
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/pipeline",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
    )
    arn = machine["stateMachineArn"]
    now = dt.datetime.now(UTC)
    rules = {
        "hourly": ("rate(1 hour)", "ENABLED"),
        "yearly": (f"cron(0 0 1 1 ? {now.year + 1})", "ENABLED"),
        "off": ("rate(1 minute)", "DISABLED"),
    }
    for name, (expr, state) in rules.items():
        events.put_rule(Name=name, ScheduleExpression=expr, State=state)
        events.put_targets(
            Rule=name,
            Targets=[
                {
                    "Id": "pipeline",
                    "Arn": arn,
                    "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/events",
                    "Input": json.dumps({"model": name, "mode": "train"}),
                }
            ],
        )
    write_outputs(root, {"state_machine_arns": {"m": arn}})
    marker = root / ".vwt" / "envs" / "local" / "deployed.json"
    two_hours_ago = (now - dt.timedelta(hours=2)).timestamp()
    os.utime(marker, (two_hours_ago, two_hours_ago))
    return root, sfn, arn


def test_tick_fires_what_is_due_once(scheduled):
    root, sfn, arn = scheduled
    res = cli(root, "local", "tick", "--json")
    assert res.exit_code == 0, res.output
    result = json.loads(res.output)
    assert [f["rule"] for f in result["fired"]] == ["hourly"]
    execution = sfn.describe_execution(executionArn=result["fired"][0]["execution_arn"])
    assert json.loads(execution["input"]) == {"model": "hourly", "mode": "train"}
    assert {"rule": "off", "reason": "DISABLED (EventBridge would not fire it)"} in result["skipped"]
    assert set(result["next_due"]) == {"hourly", "yearly"}

    again = json.loads(cli(root, "local", "tick", "--json").output)
    assert again["fired"] == []  # remembered: nothing new is due within the same hour


def test_tick_all_fires_every_enabled_rule_and_reports_it(scheduled):
    root, _, _ = scheduled
    res = cli(root, "local", "tick", "--all")
    assert res.exit_code == 0, res.output
    assert "fired hourly (rate(1 hour)): arn:aws:states:" in res.output
    assert "fired yearly (cron(0 0 1 1 ? " in res.output
    assert "not fired off: DISABLED" in res.output
    assert "next due yearly: " in res.output


def test_tick_is_for_the_local_environment_only(repo):
    res = cli(repo, "local", "tick", "--env", "prod")
    assert res.exit_code == 2 and "EventBridge fires them" in res.output
