"""The state's lock (issue 16, part 4): who holds it and since when, a stale one told apart from a live one, and
`unlock`, which never releases a lock whose run still goes on."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

import boto3
import pytest

from tests.helpers.fakes import FakeRunner
from vwt_deploy.config import load
from vwt_deploy.deploy import statelock
from vwt_deploy.errors import ProcessError, VwtError

from .test_deploy import ACCOUNT_LOGGING_ROLE, deployment  # the fake AWS target, moto as the account


@pytest.fixture(autouse=True)
def account(moto) -> None:
    """moto as the environment's account, with its API Gateway logging role (plan checks it first)."""
    boto3.client("apigateway", region_name="eu-west-1").update_account(
        patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": ACCOUNT_LOGGING_ROLE}]
    )


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def _lock(project_dir: Path, who: str) -> str:
    env = load("dev", project_dir)
    s3 = boto3.client("s3", region_name="eu-west-1")
    s3.create_bucket(Bucket=env.state_bucket_name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    info = {
        "ID": "7f3c-lock",
        "Operation": "OperationTypeApply",
        "Info": "",
        "Who": who,
        "Version": "1.11.4",
        "Created": "2026-11-29T05:00:00.000000Z",
        "Path": f"{env.state_bucket_name}/{env.state.key}",
    }
    s3.put_object(Bucket=env.state_bucket_name, Key=f"{env.state.key}.tflock", Body=json.dumps(info).encode())
    return info["ID"]


def _holder(project_dir: Path, pid: int) -> None:
    work = project_dir / ".vwt" / "envs" / "dev"
    work.mkdir(parents=True, exist_ok=True)
    record = {"pid": pid, "host": socket.gethostname(), "operation": "apply", "started": 0}
    (work / statelock.HOLDER_FILE.format(pid=pid)).write_text(json.dumps(record))


LOCKED = {"plan": (1, "Error: Error acquiring the state lock\nLock Info: ...")}
HERE = f"ci@{socket.gethostname()}"


def test_a_stale_lock_of_a_killed_run_on_this_machine_says_so_and_unlock_releases_it(project_dir: Path) -> None:
    lock_id = _lock(project_dir, HERE)
    dead = _dead_pid()
    _holder(project_dir, dead)
    runner = FakeRunner(LOCKED)
    with pytest.raises(VwtError) as raised:
        deployment(project_dir, runner).plan()
    message = str(raised.value)
    assert f"lock 7f3c-lock, held by {HERE} since 2026-11-29T05:00:00.000000Z (apply)" in message
    assert f"(pid {dead}) no longer exists, so the lock is stale" in message
    assert "vwt-deploy unlock --env dev" in message and "nothing was changed" in message
    asked = []
    released = deployment(project_dir, runner).unlock(lambda lock: asked.append(lock) or True)
    assert released is not None and released.id == lock_id and len(asked) == 1
    assert runner.calls[-1][-4:] == ["force-unlock", "-force", "-no-color", lock_id]
    assert list((project_dir / ".vwt" / "envs" / "dev").glob(statelock.HOLDER_GLOB)) == []  # the dead run's record


def test_a_lock_whose_run_still_goes_on_here_is_never_released(project_dir: Path) -> None:
    _lock(project_dir, HERE)
    running = subprocess.Popen(["sleep", "60"])  # another vwt-deploy run, still going
    try:
        _holder(project_dir, running.pid)
        runner = FakeRunner(LOCKED)
        with pytest.raises(VwtError, match=rf"vwt-deploy \(pid {running.pid}\) on this machine is running terraform"):
            deployment(project_dir, runner).plan()
        with pytest.raises(VwtError, match="not unlocking dev") as raised:
            deployment(project_dir, runner).unlock(lambda lock: True)
        assert "wait for it to finish" in raised.value.hint
        assert "force-unlock" not in runner.subcommands()
    finally:
        running.kill()
        running.wait()


def test_a_lock_taken_elsewhere_is_released_only_when_confirmed(project_dir: Path) -> None:
    _lock(project_dir, "ci@runner-7")
    runner = FakeRunner(LOCKED)
    with pytest.raises(VwtError) as raised:
        deployment(project_dir, runner).plan()
    assert "held by ci@runner-7" in str(raised.value) and "if that run is over" in raised.value.hint
    with pytest.raises(VwtError, match="nothing unlocked: not confirmed"):
        deployment(project_dir, runner).unlock(lambda lock: False)
    assert "force-unlock" not in runner.subcommands()


def test_no_lock_nothing_to_release(project_dir: Path) -> None:
    env = load("dev", project_dir)
    boto3.client("s3", region_name="eu-west-1").create_bucket(
        Bucket=env.state_bucket_name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    assert deployment(project_dir, FakeRunner()).unlock(lambda lock: True) is None


def test_the_holder_record_lives_as_long_as_the_terraform_run(tmp_path: Path) -> None:
    path = tmp_path / statelock.HOLDER_FILE.format(pid=os.getpid())
    with statelock.holding(tmp_path, "apply"):
        record = json.loads(path.read_text())
        assert record["pid"] == os.getpid() and record["operation"] == "apply"
    assert not path.exists()


def test_terraform_killed_by_a_signal_leaves_the_record_for_the_stale_lock_check(tmp_path: Path) -> None:
    """terraform killed mid-apply keeps its lock; this run's record stays with it, so once this process has
    ended, the next run can tell the lock is stale. A terraform that failed on its own released its lock."""
    path = tmp_path / statelock.HOLDER_FILE.format(pid=os.getpid())
    with pytest.raises(ProcessError), statelock.holding(tmp_path, "apply"):
        raise ProcessError(["terraform", "apply"], -9, "")
    assert json.loads(path.read_text())["operation"] == "apply"
    path.unlink()
    with pytest.raises(ProcessError), statelock.holding(tmp_path, "apply"):
        raise ProcessError(["terraform", "apply"], 1, "Error: creating IAM Role")
    assert not path.exists()


def test_a_killed_apply_says_the_lock_is_left_and_how_to_release_it(project_dir: Path) -> None:
    runner = FakeRunner({"plan": (2, ""), "show": (0, '{"resource_changes": []}'), "apply": (-9, "")})
    d = deployment(project_dir, runner)
    with pytest.raises(VwtError) as raised:
        d.apply(d.plan())
    assert "terraform was stopped by signal 9 before it finished" in raised.value.message
    assert "the lock it held on the state of dev is left" in raised.value.message
    assert "`vwt-deploy unlock --env dev`" in (raised.value.hint or "")
    assert len(list((project_dir / ".vwt" / "envs" / "dev").glob(statelock.HOLDER_GLOB))) == 1
