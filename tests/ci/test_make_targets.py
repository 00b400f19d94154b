"""The Makefile's CI targets: what `make plan` and `make down` run (dry runs, `make -n`), and that
`make down ENV=prod DESTROY_DATA=1` is refused before anything runs (checked with a stand-in vwt-deploy too).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.helpers import REPO


def make(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    # MAKEFLAGS and friends from a surrounding make must not change what this one does
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=REPO,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(Path.home())},
        capture_output=True,
        text=True,
        timeout=60,
        check=check,
    )


def dry_run(*args: str) -> list[str]:
    """The commands `make -n` would run, each split into words."""
    return [line.split() for line in make("-n", *args).stdout.splitlines() if line.strip()]


@pytest.fixture
def fake_bin(tmp_path: Path) -> tuple[str, Path]:
    """A BIN folder whose vwt-deploy only records its arguments: (BIN=..., the record)."""
    record = tmp_path / "calls"
    script = tmp_path / "bin" / "vwt-deploy"
    script.parent.mkdir()
    script.write_text(f'#!/bin/sh\necho "$@" >> {record}\n')
    script.chmod(0o755)
    return f"BIN={script.parent}", record


def test_plan_passes_plan_args():
    assert dry_run("plan", "ENV=dev", "PLAN_ARGS=--markdown") == [
        [".venv/bin/vwt-deploy", "plan", "--env", "dev", "--markdown"]
    ]
    assert dry_run("plan", "ENV=prod", "PLAN_ARGS=--detailed-exitcode --markdown") == [
        [".venv/bin/vwt-deploy", "plan", "--env", "prod", "--detailed-exitcode", "--markdown"]
    ]


def test_plan_without_plan_args_is_unchanged():
    assert dry_run("plan", "ENV=dev") == [[".venv/bin/vwt-deploy", "plan", "--env", "dev"]]


def test_down_destroy_data_adds_the_flag():
    assert dry_run("down", "ENV=dev", "YES=1", "DESTROY_DATA=1") == [
        [".venv/bin/vwt-deploy", "down", "--env", "dev", "--yes", "--destroy-data"]
    ]


@pytest.mark.parametrize("value", ["", "0"])
def test_down_keeps_data_unless_destroy_data_is_1(value):
    assert dry_run("down", "ENV=dev", "YES=1", f"DESTROY_DATA={value}") == [
        [".venv/bin/vwt-deploy", "down", "--env", "dev", "--yes"]
    ]


def test_down_prod_without_destroy_data_is_unchanged():
    assert dry_run("down", "ENV=prod", "YES=1") == [[".venv/bin/vwt-deploy", "down", "--env", "prod", "--yes"]]


@pytest.mark.parametrize("dry", [True, False], ids=["make -n", "make"])
def test_down_prod_destroy_data_is_refused_before_anything_runs(dry, fake_bin):
    bin_dir, record = fake_bin
    proc = make(*(["-n"] if dry else []), "down", "ENV=prod", "YES=1", "DESTROY_DATA=1", bin_dir, check=False)
    assert proc.returncode != 0
    assert "DESTROY_DATA=1 is refused for ENV=prod" in proc.stderr
    assert "Nothing was run" in proc.stderr
    assert "vwt-deploy" not in proc.stdout
    assert not record.exists(), record.read_text()


def test_the_stand_in_records_what_down_runs(fake_bin):
    """The control of the test above: with another environment, the same command does run vwt-deploy."""
    bin_dir, record = fake_bin
    make("down", "ENV=dev", "YES=1", "DESTROY_DATA=1", bin_dir)
    assert record.read_text().split() == ["down", "--env", "dev", "--yes", "--destroy-data"]


def test_an_unclear_destroy_data_is_refused(fake_bin):
    bin_dir, record = fake_bin
    proc = make("down", "ENV=dev", "YES=1", "DESTROY_DATA=yes", bin_dir, check=False)
    assert proc.returncode != 0 and "use DESTROY_DATA=1" in proc.stderr
    assert not record.exists()


def test_destroy_data_does_not_affect_other_targets():
    assert dry_run("plan", "ENV=prod", "DESTROY_DATA=1") == [[".venv/bin/vwt-deploy", "plan", "--env", "prod"]]


def test_lint_runs_the_workflow_lint():
    assert ["scripts/lint-workflows.sh"] in dry_run("lint")
