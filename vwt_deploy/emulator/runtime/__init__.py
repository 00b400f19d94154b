"""The local runtime: inside the emulator process, it runs what AWS would run.

moto keeps records of training jobs, endpoints, Lambda functions and APIs; the
runtime makes them work, with the project's own code and no Docker:

- `sagemaker/`: training and tuning jobs run the container's `train`, endpoints run its `serve`;
- `lambdas`: invoking a function runs its handler from the deployed zip in a worker process (`lambda_worker`);
- `apigateway`: deployed REST APIs answer on `<emulator>/_aws/execute-api/<api id>/<stage>/<path>`;
- `stepfunctions/`: the SageMaker task integrations (request-response and `.sync`) of moto's interpreter;
- `events`: SageMaker's model-package state-change events, delivered to the rules' state machine targets;
- `alarms`: CloudWatch alarms evaluated when their metric receives data, their SNS actions run;
- `patching`: how they patch moto (idempotently, restorably).

As moto keeps its records in backends, the runtime keeps what runs behind them in objects: one `Runtime`
owns its `SageMakerRuntime` (`runtime.sagemaker`: jobs and endpoints) and `LambdaRuntime` (`runtime.lambdas`:
warm workers); the moto patches reach them through the runtime they were installed with, never through a
module global.

`install(state_dir, port)` is called once by the emulator server, after moto's
fixes. Every process the runtime starts goes through `Runtime.spawn`: it is
recorded in `<state dir>/runtime/processes.json`, dies with the emulator
(Linux parent-death signal), and is stopped by `Runtime.stop_all()` when the
emulator stops.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import signal
import socket
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from vwt_deploy.emulator.runtime.credentials import Credentials, Sessions

if TYPE_CHECKING:
    from vwt_deploy.emulator.enforcement import Enforcer
    from vwt_deploy.emulator.runtime.lambdas import LambdaRuntime
    from vwt_deploy.emulator.runtime.sagemaker import SageMakerRuntime

log = logging.getLogger("vwt_deploy.emulator.runtime")

ACCOUNT_ID = "123456789012"  # moto's default account: every request the tool makes uses it
_PACKAGE_REPO = Path(__file__).resolve().parents[3]


def free_port() -> int:
    """A port that was free a moment ago (for a child that binds it itself; it retries on a clash)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


try:  # resolved once here: the child must not load libraries between fork and exec (a threaded parent)
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux: stop_all() and the recorded pids still cover it
    _prctl = None


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if _prctl is not None:
        _prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Runtime:
    def __init__(self, state_dir: Path, port: int, container_dir: Path | None = None, enforcer: Enforcer | None = None):
        self.enforcer = enforcer  # None: IAM is not checked
        self.sessions = Sessions(enforcer)
        self.state_dir = Path(state_dir)
        self.work = self.state_dir / "runtime"
        self.work.mkdir(parents=True, exist_ok=True)
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.container_dir = container_dir or _PACKAGE_REPO / "containers" / "sklearn"
        self._procs: dict[int, tuple[str, subprocess.Popen]] = {}
        self._lock = threading.Lock()
        self._stoppers: list[Callable[[], None]] = []
        self._logs_lock = threading.Lock()  # moto's log groups and streams are not thread-safe
        self.stopping = False
        # Linux sends the parent-death signal when the *thread* that started a child ends, and each request of
        # the emulator runs on a short-lived thread: every child is started from this one long-lived thread.
        self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="runtime-spawner")
        # what runs behind moto's records (imported here: those modules import this one)
        from vwt_deploy.emulator.runtime.lambdas import LambdaRuntime
        from vwt_deploy.emulator.runtime.sagemaker import SageMakerRuntime

        self.sagemaker: SageMakerRuntime = SageMakerRuntime(self)
        self.lambdas: LambdaRuntime = LambdaRuntime(self)
        self.on_stop(self.sagemaker.stop)
        self.on_stop(self.lambdas.retire)

    # ------------------------------------------------------------------ AWS access from inside
    def client(self, service: str, region: str = "eu-west-1", credentials: Credentials | None = None):
        """A boto3 client of this emulator (the runtime's own calls go through the same API users see): as the
        account's administrator, or with a role session's `credentials` (a principal acting as itself)."""
        import boto3
        from botocore.config import Config

        keys = (
            credentials.client_args() if credentials else {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
        )
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=region,
            config=Config(retries={"max_attempts": 2}),
            **keys,
        )

    def client_env(self, region: str = "eu-west-1", credentials: Credentials | None = None) -> dict[str, str]:
        """Environment for a child that calls AWS: it reaches this emulator, never a real account, as the
        administrator or with a role session's `credentials`."""
        keys = credentials.env() if credentials else {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_SESSION_TOKEN": "",
            **keys,
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def put_log_events(
        self, account: str, region: str, group: str, stream: str, events: Sequence[tuple[int, str]]
    ) -> None:
        """Append (epoch ms, message) events to a CloudWatch Logs stream, creating the group and stream if needed
        (the one way the runtime writes logs: straight into moto's backend, one writer at a time)."""
        from moto.logs.models import logs_backends

        if not events:
            return
        backend = logs_backends[account][region]
        with self._logs_lock:
            backend.ensure_log_group(group)  # also when the group was deleted meanwhile
            if stream not in backend.groups[group].streams:
                backend.create_log_stream(group, stream)
            backend.put_log_events(group, stream, [{"timestamp": ts, "message": m} for ts, m in events])

    # ------------------------------------------------------------------ processes
    def spawn(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        log_path: Path | None = None,
        stdin: int | None = subprocess.DEVNULL,
        stdout: int | IO | None = None,
    ) -> subprocess.Popen:
        """Start a child process (recorded, stopped with the emulator). Its output goes to log_path unless given."""
        return self._spawner.submit(self._spawn, name, argv, env, cwd, log_path, stdin, stdout).result()

    def _spawn(self, name, argv, env, cwd, log_path, stdin, stdout) -> subprocess.Popen:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_", "VWT_ML_ROOT"))}
        full_env = {**base, **(env or {})}
        with contextlib.ExitStack() as files:  # a log file is closed once the child holds its own copy
            out: Any = stdout
            if out is None and log_path is not None:
                log_path.parent.mkdir(parents=True, exist_ok=True)
                out = files.enter_context(open(log_path, "ab"))
            proc = subprocess.Popen(
                list(argv),
                env=full_env,
                cwd=cwd,
                stdin=stdin,
                stdout=subprocess.DEVNULL if out is None else out,
                stderr=subprocess.STDOUT if stdout is None else None,
                preexec_fn=_die_with_parent if _prctl is not None else None,
            )
        with self._lock:
            self._procs[proc.pid] = (name, proc)
            self._record()
        return proc

    def forget(self, proc: subprocess.Popen) -> None:
        with self._lock:
            self._procs.pop(proc.pid, None)
            self._record()

    def stop(self, proc: subprocess.Popen, timeout: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after `timeout`; reaped and forgotten."""
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.forget(proc)

    def processes(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{"pid": pid, "name": name} for pid, (name, p) in self._procs.items() if p.poll() is None]

    def _record(self) -> None:  # under the lock
        tmp = self.work / "processes.json.tmp"
        tmp.write_text(json.dumps([{"pid": pid, "name": name} for pid, (name, _) in self._procs.items()]))
        tmp.replace(self.work / "processes.json")

    def on_stop(self, fn: Callable[[], None]) -> None:
        """Run fn when the emulator stops (before the remaining processes are killed)."""
        self._stoppers.append(fn)

    def stop_all(self) -> None:
        self.stopping = True
        for fn in reversed(self._stoppers):
            try:
                fn()
            except Exception:  # noqa: BLE001 - stopping must go on
                log.exception("runtime stop hook failed")
        with self._lock:
            procs = [p for _, p in self._procs.values()]
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        with self._lock:
            self._procs.clear()
            self._record()


def install(state_dir: Path, port: int, container_dir: Path | None = None, enforcer: Enforcer | None = None) -> Runtime:
    """Create the runtime and patch moto so its records run in it (called once by the emulator server; installing
    another runtime replaces the patches: moto's records then run in that one). `enforcer` decides the calls its
    principals make (None: IAM is not checked)."""
    runtime = Runtime(state_dir, port, container_dir, enforcer)
    from vwt_deploy.emulator.runtime import alarms, apigateway, events, lambdas, sagemaker, stepfunctions

    for module in (sagemaker, lambdas, apigateway, stepfunctions, events, alarms):
        module.install(runtime)
    return runtime


def wsgi(app, runtime: Runtime):
    """The emulator's WSGI app with the runtime's own routes (the local API Gateway address) in front."""
    from vwt_deploy.emulator.runtime import apigateway

    return apigateway.middleware(app, runtime)
