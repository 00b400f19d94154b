"""Start, stop and inspect the project's emulator: a background process on 127.0.0.1.

State lives in `.vwt/emulator/`: `server.json` (pid, port, boot id; written by
the server once it listens), `emulator.log`, and `server.lock` (held by the
server for its life, so two emulators never serve one project).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from vwt_deploy.emulator.server import ACCESS_PATH, HEALTH_PATH, TOKEN_PATH
from vwt_deploy.errors import VwtError
from vwt_deploy.process import Runner, pid_alive

START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0

#: the access key vwt-deploy's own clients and Terraform use locally: the emulator records what it asks as the
#: principal "deployer" (`vwt-deploy local access --principal deployer`), the record the deploy role's policy is
#: derived from; it acts as the account's administrator, as any key STS did not issue does
DEPLOYER_ACCESS_KEY = "AKIAVWTLOCALDEPLOYER"
DEPLOYER = "deployer"

#: credentials and settings every client of the emulator uses (it accepts any)
CLIENT_ENV = {
    "AWS_ACCESS_KEY_ID": DEPLOYER_ACCESS_KEY,
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_SESSION_TOKEN": "",
    "AWS_PROFILE": "",
}


@dataclass(frozen=True)
class EmulatorInfo:
    pid: int
    port: int
    boot_id: str
    started_at: float

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class Emulator:
    """The emulator of one state folder. `container_dir` is the image's code its runtime runs (default: the
    tool's own copy)."""

    def __init__(self, state_dir: Path, runner: Runner | None = None, container_dir: Path | None = None):
        self.dir = Path(state_dir)
        self.runner = runner or Runner()
        self.container_dir = container_dir

    @property
    def log(self) -> Path:
        return self.dir / "emulator.log"

    def _recorded(self) -> EmulatorInfo | None:
        try:
            data = json.loads((self.dir / "server.json").read_text())
            return EmulatorInfo(int(data["pid"]), int(data["port"]), str(data["boot_id"]), float(data["started_at"]))
        except (OSError, ValueError, KeyError):
            return None

    def health(self, info: EmulatorInfo, timeout: float = 2.0) -> dict | None:
        try:
            with urllib.request.urlopen(info.url + HEALTH_PATH, timeout=timeout) as resp:
                return json.loads(resp.read())
        except (urllib.error.URLError, OSError, ValueError):
            return None

    def access(self) -> list:
        """The running emulator's least-privilege report (`iam.report.RoleAccess` per role): what each role used,
        and what it was granted but never used. VwtError when the emulator does not run."""
        from vwt_deploy.emulator.enforcement import admin_clients
        from vwt_deploy.emulator.iam.account import Account
        from vwt_deploy.emulator.iam.report import access_report

        info = self.running()
        if info is None:
            raise VwtError(
                "the emulator is not running, so there is no local run to report on",
                "start it and run the framework (`vwt-deploy up`, `vwt-deploy retrain --wait`, `vwt-deploy predict`), "
                "then ask again",
            )
        health = self.health(info) or {}
        if health.get("iam") == "off":
            raise VwtError(
                "the emulator runs with VWT_LOCAL_IAM=off, which records no access",
                "restart it with VWT_LOCAL_IAM=enforce (the default) or soft: `vwt-deploy local stop`, then `up`",
            )
        with urllib.request.urlopen(info.url + ACCESS_PATH, timeout=10) as resp:
            recorded = json.loads(resp.read())
        return access_report(recorded, Account(admin_clients(info.url)).role_policies)

    def token(self, subject: str, audience: str = "sts.amazonaws.com") -> str:
        """A GitHub Actions OIDC token for `subject` (`repo:<owner>/<name>:environment:<env>`), signed by the running
        emulator, which its STS accepts in AssumeRoleWithWebIdentity (`emulator.webidentity`)."""
        info = self.running()
        if info is None:
            raise VwtError("the emulator is not running, so it issues no token", "start it: `vwt-deploy local start`")
        query = urllib.parse.urlencode({"sub": subject, "audience": audience})
        with urllib.request.urlopen(f"{info.url}{TOKEN_PATH}?{query}", timeout=10) as resp:
            return str(json.loads(resp.read())["value"])

    def status(self) -> tuple[str, EmulatorInfo | None]:
        """("running", info), ("not running", None), or ("not answering", info) for a live process
        that does not answer."""
        info = self._recorded()
        if info is None or not pid_alive(info.pid):
            return "not running", None
        answer = self.health(info)
        if answer is None or answer.get("boot_id") != info.boot_id:
            return "not answering", info
        return "running", info

    def running(self) -> EmulatorInfo | None:
        state, info = self.status()
        return info if state == "running" else None

    def start(self, port: int = 0) -> EmulatorInfo:
        """Start the emulator unless it runs; wait until it answers. Raises VwtError with the log's tail on failure."""
        state, info = self.status()
        if state == "running":
            assert info
            if port and info.port != port:
                raise VwtError(
                    f"the emulator already runs on port {info.port}, not {port}",
                    "stop it first (`vwt-deploy local stop`) to move it",
                )
            return info
        if state == "not answering":
            assert info
            raise VwtError(
                f"the emulator (pid {info.pid}, port {info.port}) is running but does not answer",
                f"stop it with `vwt-deploy local stop` (or kill {info.pid}) and start again; its log: {self.log}",
            )
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "server.json").unlink(missing_ok=True)
        offset = self.log.stat().st_size if self.log.exists() else 0
        argv = [sys.executable, "-m", "vwt_deploy.emulator.server", "--state-dir", str(self.dir), "--port", str(port)]
        if self.container_dir is not None:
            argv += ["--container-dir", str(self.container_dir)]
        pid = self.runner.spawn(argv, log=self.log)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            info = self._recorded()
            if info and info.pid == pid and self.health(info, timeout=1.0):
                return info
            try:
                finished, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                finished, status = pid, 0
            if finished:
                code = os.waitstatus_to_exitcode(status) if finished == pid and status else None
                raise self._failed(offset, code, port)
            time.sleep(0.1)
        self._kill(pid)
        raise VwtError(f"the emulator did not answer within {START_TIMEOUT:.0f} s", f"see its log: {self.log}")

    def _failed(self, offset: int, code: int | None, port: int) -> VwtError:
        tail = ""
        if self.log.exists():
            with open(self.log, "rb") as fh:
                fh.seek(offset)
                tail = fh.read().decode(errors="replace").strip()[-2000:]
        if code == 4:
            return VwtError(
                f"cannot start the emulator: port {port} is busy",
                "choose another port (--port), or leave it out to let the system pick a free one",
            )
        if code == 3:
            return VwtError(
                "another emulator already serves this project folder",
                "use it (`vwt-deploy local status`) or stop it (`vwt-deploy local stop`)",
            )
        return VwtError(f"the emulator exited during start-up:\n    {tail}", f"its log: {self.log}")

    def stop(self) -> bool:
        """Stop the emulator if it runs; True if one was stopped. Its memory (everything deployed) is gone."""
        info = self._recorded()
        if info is None or not pid_alive(info.pid):
            (self.dir / "server.json").unlink(missing_ok=True)
            return False
        self._kill(info.pid)
        (self.dir / "server.json").unlink(missing_ok=True)
        return True

    def _kill(self, pid: int) -> None:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline:
            try:
                if os.waitpid(pid, os.WNOHANG)[0]:
                    return
            except ChildProcessError:  # not our child: poll for its end
                if not pid_alive(pid):
                    return
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):  # it ended in between
            os.kill(pid, signal.SIGKILL)
