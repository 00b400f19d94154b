"""The emulator's life cycle: start, reuse, one per project, busy port, not answering, stop."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from vwt_deploy.cli import main
from vwt_deploy.emulator.manager import Emulator
from vwt_deploy.errors import VwtError
from vwt_deploy.process import pid_alive


@pytest.fixture
def emulator_manager(tmp_path: Path):
    """An emulator of the test's own, not started: these tests start, stop, freeze and collide with it."""
    em = Emulator(tmp_path / "emulator")
    yield em
    em.stop()


def test_start_reuse_stop(emulator_manager: Emulator) -> None:
    info = emulator_manager.start()
    assert info.port > 0 and emulator_manager.status() == ("running", info)
    assert emulator_manager.start() == info  # reused, not a second process
    assert emulator_manager.log.exists()
    assert emulator_manager.stop() is True
    assert not pid_alive(info.pid)
    assert emulator_manager.status() == ("not running", None)
    assert emulator_manager.stop() is False


def test_two_emulators_never_serve_one_project(emulator_manager: Emulator) -> None:
    emulator_manager.start()
    second = subprocess.run(
        [sys.executable, "-m", "vwt_deploy.emulator.server", "--state-dir", str(emulator_manager.dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode == 3 and "already serves this project" in second.stderr


def test_busy_port_is_one_clear_message(emulator_manager: Emulator) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(VwtError) as exc:
            emulator_manager.start(port)
    assert f"port {port} is busy" in str(exc.value) and "--port" in str(exc.value)
    assert emulator_manager.status()[0] == "not running"


def test_an_emulator_that_does_not_answer(emulator_manager: Emulator) -> None:
    info = emulator_manager.start()
    os.kill(info.pid, signal.SIGSTOP)
    try:
        assert emulator_manager.status()[0] == "not answering"
        with pytest.raises(VwtError, match="does not answer"):
            emulator_manager.start()
    finally:
        os.kill(info.pid, signal.SIGCONT)
    emulator_manager.stop()
    assert not pid_alive(info.pid)


def test_cli_local_commands(project_dir: Path) -> None:
    def run(*args: str):
        return CliRunner().invoke(main, ["--project-dir", str(project_dir), "local", *args])

    try:
        assert "not running" in run("status").output
        started = run("start")
        assert started.exit_code == 0 and "emulator running at http://127.0.0.1:" in started.output
        status = json.loads(run("status", "--json").output)
        assert status["state"] == "running" and status["iam"] == "enforce"  # IAM is enforced by default
        assert "(pid " in run("status").output and "IAM enforce)" in run("status").output
        access = run("access")
        assert access.exit_code == 0 and "nothing recorded yet" in access.output
        assert (project_dir / ".vwt/emulator/emulator.log").exists()
    finally:
        stopped = run("stop")
    assert "emulator stopped" in stopped.output
    assert "not running" in run("status").output
    refused = run("access")
    assert refused.exit_code == 1 and "the emulator is not running, so there is no local run" in refused.output


def test_cli_busy_port_is_exit_1_with_one_message(project_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        res = CliRunner().invoke(main, ["--project-dir", str(project_dir), "local", "start", "--port", str(port)])
    assert res.exit_code == 1
    assert f"port {port} is busy" in res.output and "Traceback" not in res.output
    assert Emulator(project_dir / ".vwt" / "emulator").status()[0] == "not running"


def test_cli_without_terraform_is_exit_1_with_one_message(project_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(project_dir))  # no terraform here
    res = CliRunner().invoke(main, ["--project-dir", str(project_dir), "validate", "--env", "local"])
    assert res.exit_code == 1
    assert "terraform is not on PATH" in res.output and "install it" in res.output
    assert "Traceback" not in res.output


def test_a_killed_process_its_parent_has_not_reaped_is_not_alive() -> None:
    """An emulator killed with -9 after the command that started it has ended stays a zombie until something reaps
    it; signal 0 still reaches a zombie, so `status` said "not answering" and `up` did not start a new one."""
    import time

    child = subprocess.Popen(["sleep", "60"])
    try:
        assert pid_alive(child.pid)
        child.send_signal(signal.SIGKILL)
        deadline = time.monotonic() + 10
        while pid_alive(child.pid):  # a zombie from the moment it died: this process has not reaped it yet
            assert time.monotonic() < deadline, "a killed, unreaped child still counts as alive"
            time.sleep(0.05)
    finally:
        child.kill()
        child.wait()
