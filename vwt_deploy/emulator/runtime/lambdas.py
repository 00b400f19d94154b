"""Lambda: invoking a function runs its handler from the deployed zip, in warm worker processes.

moto's server runs functions only in Docker; `install` patches the method its
`Invoke` reaches (`LambdaFunction.invoke`) so that an invocation:

- extracts the zip moto holds once per code digest into `<runtime work>/lambda/<function>/<sha256>/`;
- runs the handler in a worker (`python -S .../lambda_worker.py`) that keeps the module
  imported between invocations, as Lambda keeps a sandbox warm; the worker sees the standard library, the
  function's code and what Lambda's Python runtime provides (the AWS SDK and its dependencies: `provided_path`),
  not this environment's other packages, so a package that needs a library must bring it, as on AWS; a pool
  per function version runs concurrent invocations in parallel, at most `VWT_LAMBDA_MAX_WORKERS` (default 4,
  or the reserved concurrency when lower) at a time; further invocations wait for a free worker;
- gives the worker the function's environment variables, credentials of a session of its execution role
  (`Runtime.sessions`), and the variables Lambda sets;
- kills a worker that outlives the function's timeout and answers as Lambda does
  (FunctionError "Unhandled", "Task timed out after N.NN seconds"); an exception answers
  FunctionError "Unhandled" with errorMessage, errorType and stackTrace;
- writes what the handler prints or logs, between START / END / REPORT lines, to the log group
  `/aws/lambda/<function>`, one stream per worker (`YYYY/MM/DD/[$LATEST]<hex>`); LogType=Tail
  returns the invocation's last 4 KB base64 in X-Amz-Log-Result.

A new code digest or configuration retires the old workers (a busy one finishes its invocation first).
The workers live in the runtime's `LambdaRuntime` (`runtime.lambdas`); other runtime modules call
`runtime.lambdas.invoke(function, event, region)`.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import io
import json
import math
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from vwt_deploy.emulator.runtime import ACCOUNT_ID, Runtime, patching

MAX_WORKERS = int(os.environ.get("VWT_LAMBDA_MAX_WORKERS", "4"))
LOG_TAIL_BYTES = 4096
INIT_TIMEOUT = (
    10.0  # Lambda's limit of a sandbox's init phase (importing the handler), not part of the function's timeout
)
DEFAULT_REGION = "eu-west-1"
#: what Lambda's Python runtimes provide besides the standard library: the AWS SDK for Python and its dependencies
#: (Lambda Developer Guide, "Building Lambda functions with Python": the runtime includes Boto3; "Working with .zip
#: file archives": other dependencies go in the package)
PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")
_WORKER = Path(__file__).with_name("lambda_worker.py")


def provided_path(directory: Path) -> Path:
    """`directory`, holding links to this environment's copies of what Lambda's runtime provides (`PROVIDED`): the
    workers' only library path besides the function's code and the standard library."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in PROVIDED:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        source = Path(spec.origin).parent if spec.submodule_search_locations else Path(spec.origin)
        with contextlib.suppress(FileExistsError):  # made by a worker before, or beside, this one
            (directory / source.name).symlink_to(source)
    return directory


@dataclass
class Outcome:
    """One invocation's answer: the payload, the FunctionError header (or None) and its log text."""

    payload: bytes
    function_error: str | None
    log: str

    @property
    def log_tail(self) -> str:
        """The last 4 KB of the log, base64 (X-Amz-Log-Result)."""
        return base64.b64encode(self.log.encode()[-LOG_TAIL_BYTES:]).decode()


class _Worker:
    """One warm sandbox: a worker process, its log stream, and a reader of its answers. The handler calls AWS
    with a session of the function's execution role, named after the function, as Lambda gives it."""

    def __init__(self, runtime: Runtime, fn: Any, code_dir: Path):
        now = datetime.now(timezone.utc)
        self.stream = f"{now:%Y/%m/%d}/[{fn.version}]{uuid.uuid4().hex}"
        env = {
            **fn.environment_vars,
            **runtime.client_env(fn.region, _credentials(runtime, fn)),
            "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": str(fn.version),
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(fn.timeout),
            "AWS_LAMBDA_LOG_GROUP_NAME": fn.logs_group_name,
            "AWS_LAMBDA_LOG_STREAM_NAME": self.stream,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.run_time}",
            "_HANDLER": fn.handler,
            "LAMBDA_TASK_ROOT": str(code_dir),
            "TZ": ":UTC",
            "PYTHONPATH": str(provided_path(runtime.work / "lambda" / "python-runtime")),
        }
        self.runtime = runtime
        self.proc = runtime.spawn(
            f"lambda {fn.function_name}",
            [
                sys.executable,
                "-S",  # no site-packages: the runtime's libraries come from PYTHONPATH alone
                str(_WORKER),
                "--code",
                str(code_dir),
                "--handler",
                fn.handler,
            ],
            env=env,
            cwd=code_dir,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self.messages: queue.Queue = queue.Queue()
        self.ready = False  # the handler's module is imported
        threading.Thread(target=self._read, daemon=True, name=f"lambda-reader-{self.proc.pid}").start()

    def _read(self) -> None:
        with self.proc.stdout:
            for line in self.proc.stdout:
                try:
                    self.messages.put(json.loads(line))
                except ValueError:
                    continue
        self.messages.put(None)

    def run(self, request: dict, timeout: float) -> tuple[dict | None, list[tuple[int, str]], str]:
        """(the worker's "done" message or None, log events, "done" | "timeout" | "exit")."""
        logs: list[tuple[int, str]] = []
        try:
            self.proc.stdin.write(json.dumps(request).encode() + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return None, logs, "exit"
        deadline = time.monotonic() + timeout + (0 if self.ready else INIT_TIMEOUT)
        while True:
            try:
                message = self.messages.get(timeout=max(deadline - time.monotonic(), 0))
            except queue.Empty:
                return None, logs, "timeout"
            if message is None:
                return None, logs, "exit"
            if "ready" in message:  # the init phase is over: the function's timeout starts now
                self.ready = True
                deadline = time.monotonic() + timeout
                continue
            if "log" in message:
                logs.append((int(time.time() * 1000), message["log"]))
                continue
            return message, logs, "done"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.runtime.stop(self.proc)
        with contextlib.suppress(OSError):  # a broken pipe to a dead worker: nothing left to send
            self.proc.stdin.close()


class _Pool:
    """The warm workers of one function version and configuration, at most `cap` at a time."""

    def __init__(self, fingerprint: str, cap: int):
        self.fingerprint = fingerprint
        self.cap = cap
        self.idle: list[_Worker] = []
        self.count = 0
        self.retired = False
        self.cond = threading.Condition()

    def acquire(self, start: Callable[[], _Worker]) -> _Worker:
        dead: list[_Worker] = []
        with self.cond:
            while True:
                while not self.idle and self.count >= self.cap:
                    self.cond.wait()
                if not self.idle:
                    break
                worker = self.idle.pop()
                if worker.proc.poll() is None:
                    return worker
                dead.append(worker)  # died while idle: Lambda would start a fresh sandbox
                self.count -= 1
            self.count += 1
        for worker in dead:
            worker.stop()
        try:
            return start()
        except BaseException:
            self.release(None, alive=False)
            raise

    def release(self, worker: _Worker | None, alive: bool) -> None:
        with self.cond:
            keep = alive and not self.retired and worker is not None
            if keep:
                self.idle.append(worker)
            else:
                self.count -= 1
            self.cond.notify()
        if worker is not None and not keep:
            worker.stop()

    def retire(self) -> None:
        with self.cond:
            self.retired = True
            idle, self.idle = self.idle, []
            self.count -= len(idle)
        for worker in idle:
            worker.stop()


def _credentials(runtime: Runtime, fn: Any):
    """The execution role's session (Lambda refuses a role its trust policy does not let it assume)."""
    from vwt_deploy.emulator.runtime.credentials import UntrustedRole

    try:
        return runtime.sessions.assume(fn.role, fn.function_name, "lambda.amazonaws.com")
    except UntrustedRole as exc:
        raise LocalRuntimeError(f"The role defined for the function cannot be assumed by Lambda. ({exc})") from None


def _fingerprint(fn: Any) -> str:
    return json.dumps(
        [
            fn.role,
            fn.code_digest,
            fn.handler,
            fn.run_time,
            fn.timeout,
            fn.memory_size,
            sorted((fn.environment_vars or {}).items()),
            fn.reserved_concurrency,
        ],
        default=str,
    )


def _write_logs(runtime: Runtime, fn: Any, worker: _Worker, events: list[tuple[int, str]]) -> None:
    lines = [(ts, line) for ts, text in events for line in text.rstrip("\n").split("\n")]
    runtime.put_log_events(fn.account_id, fn.region, fn.logs_group_name, worker.stream, lines)


def _sandbox_error(request_id: str, error_type: str, text: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": f"RequestId: {request_id} Error: {text}"}).encode()


def _answer(
    pool: _Pool, worker: _Worker, fn: Any, request_id: str, message: dict | None, events: list, ended: str
) -> tuple[bytes, str | None, str]:
    """How an invocation that ended so answers: (payload, FunctionError or None, the end of its REPORT line).
    The worker goes back to its pool, or is stopped; what Lambda logs of a failed sandbox goes to `events`."""
    if ended == "done":
        pool.release(worker, alive=not message.get("retire"))
        report = f"\tMax Memory Used: {message.get('max_rss_mb', 0)} MB"
        if message.get("init_ms") is not None:
            report += f"\tInit Duration: {message['init_ms']:.2f} ms"
        done = message["done"]
        if "error" in done:
            return json.dumps(done["error"]).encode(), "Unhandled", report
        return json.dumps(done["result"]).encode(), None, report
    if ended == "timeout":
        pool.release(worker, alive=False)  # killed, as Lambda ends a timed-out sandbox
        text = f"Task timed out after {float(fn.timeout):.2f} seconds"
        stamp = f"{datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%S.%f}"[:-3]
        events.append((int(time.time() * 1000), f"{stamp}Z {request_id} {text}\n"))
        return _sandbox_error(request_id, "Sandbox.Timedout", text), "Unhandled", "\tStatus: timeout"
    try:
        code = worker.proc.wait(5)
    except subprocess.TimeoutExpired:
        code = None
    pool.release(worker, alive=False)
    text = f"Runtime exited with error: {_exit_reason(code)}"
    events.append((int(time.time() * 1000), f"RequestId: {request_id} Error: {text}\n"))
    return (
        _sandbox_error(request_id, "Runtime.ExitError", text),
        "Unhandled",
        "\tStatus: error\tError Type: Runtime.ExitError",
    )


def _exit_reason(code: int | None) -> str:
    """How Lambda words a runtime's end in "Runtime exited with error: ...": "signal: killed" (the process status
    as Go prints it: the signal's description, lower case), or "exit status 1"."""
    import signal

    if code is not None and code < 0:
        return f"signal: {(signal.strsignal(-code) or str(-code)).lower()}"
    return f"exit status {code}"


def _function(function_name_or_arn: str, region: str | None) -> Any:
    from moto.awslambda.models import lambda_backends

    account = ACCOUNT_ID
    if function_name_or_arn.startswith("arn:"):
        parts = function_name_or_arn.split(":")
        region, account = parts[3], parts[4]
    return lambda_backends[account][region or DEFAULT_REGION].get_function(function_name_or_arn)


class LocalRuntimeError(Exception):
    """The function cannot run locally (the message says why and what to do)."""


class LambdaRuntime:
    """The warm workers of one runtime, a pool per function version (as moto keeps functions in a backend)."""

    def __init__(self, runtime: Runtime, max_workers: int = MAX_WORKERS):
        self.runtime = runtime
        self.max_workers = max_workers
        self._pools: dict[tuple[str, str], _Pool] = {}
        self._pools_lock = threading.Lock()
        self._extract_lock = threading.Lock()

    def _pool_for(self, fn: Any) -> _Pool:
        """The function version's pool; a new deployment (code or configuration) retires the old one."""
        key = (fn.function_arn, str(fn.version))
        fingerprint = _fingerprint(fn)
        with self._pools_lock:
            pool = self._pools.get(key)
            if pool is not None and pool.fingerprint == fingerprint:
                return pool
            reserved = int(fn.reserved_concurrency) if fn.reserved_concurrency else 0
            self._pools[key] = new = _Pool(
                fingerprint, min(self.max_workers, reserved) if reserved > 0 else self.max_workers
            )
        if pool is not None:
            pool.retire()
        return new

    def retire(self, matches: Callable[[str], bool] = lambda arn: True) -> None:
        """Stop the workers of every function whose ARN matches (all by default)."""
        with self._pools_lock:
            keys = [key for key in self._pools if matches(key[0])]
            pools = [self._pools.pop(key) for key in keys]
        for pool in pools:
            pool.retire()

    def code_dir(self, fn: Any) -> Path:
        """The function's deployed zip, extracted once per code digest."""
        if fn.package_type != "Zip" or not getattr(fn, "code_bytes", b""):
            raise LocalRuntimeError(
                f"function {fn.function_name} has no zip package: the local runtime runs Zip-packaged Python "
                "functions only"
            )
        target = self.runtime.work / "lambda" / fn.function_name / fn.code_digest
        with self._extract_lock:
            if not target.is_dir():
                tmp = target.with_name(target.name + ".tmp")
                shutil.rmtree(tmp, ignore_errors=True)
                tmp.mkdir(parents=True)
                try:
                    with zipfile.ZipFile(io.BytesIO(fn.code_bytes)) as archive:
                        archive.extractall(tmp)
                except zipfile.BadZipFile:
                    shutil.rmtree(tmp, ignore_errors=True)
                    raise LocalRuntimeError(
                        f"the package of function {fn.function_name} is not a zip file: deploy a zip of the "
                        "handler's code"
                    ) from None
                tmp.rename(target)
        return target

    def run(self, fn: Any, event: Any) -> Outcome:
        """Run one invocation of moto's function record `fn` with `event` and record its log."""
        if not str(fn.run_time or "").startswith("python") or not fn.handler:
            raise LocalRuntimeError(
                f"function {fn.function_name} has runtime {fn.run_time!r} and handler "
                f"{fn.handler!r}: the local runtime runs Python handlers only"
            )
        directory = self.code_dir(fn)
        pool = self._pool_for(fn)
        worker = pool.acquire(lambda: _Worker(self.runtime, fn, directory))
        request_id = str(uuid.uuid4())
        started = time.time()
        start_line = (int(started * 1000), f"START RequestId: {request_id} Version: {fn.version}\n")
        message, events, ended = worker.run(
            {
                "request_id": request_id,
                "event": event,
                "function_arn": fn.function_arn,
                "timeout_ms": float(fn.timeout) * 1000,
            },
            float(fn.timeout),
        )
        duration = (time.time() - started) * 1000
        report = (
            f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\tBilled Duration: {math.ceil(duration)} ms"
            f"\tMemory Size: {fn.memory_size} MB"
        )
        payload, function_error, report_end = _answer(pool, worker, fn, request_id, message, events, ended)
        report += report_end
        now = int(time.time() * 1000)
        events = [start_line, *events, (now, f"END RequestId: {request_id}\n"), (now, report + "\n")]
        _write_logs(self.runtime, fn, worker, events)
        return Outcome(payload, function_error, "".join(text for _, text in events))

    def invoke(self, function_name_or_arn: str, event: Any, region: str | None = None) -> tuple[int, bytes, str | None]:
        """Invoke a function synchronously (as Invoke with RequestResponse): (status, payload, FunctionError or None).
        An unknown function gives 404, one that cannot run locally 502, with a JSON error payload."""
        from moto.awslambda.exceptions import LambdaClientError

        try:
            outcome = self.run(_function(function_name_or_arn, region), event)
        except LambdaClientError as exc:
            return exc.code, json.dumps({"Type": "User", "message": exc.message}).encode(), None
        except LocalRuntimeError as exc:
            return 502, json.dumps({"Type": "Service", "message": str(exc)}).encode(), None
        return 200, outcome.payload, outcome.function_error


def install(runtime: Runtime) -> None:
    """Patch moto's Lambda so Invoke runs the deployed handler in `runtime` (installing again replaces the
    patches); a deleted function's workers stop."""
    from moto.awslambda.models import LambdaBackend, LambdaFunction

    patching.patch(LambdaFunction, "invoke", lambda original: _invoke_function(runtime.lambdas))
    patching.patch(LambdaBackend, "delete_function", lambda original: _delete_function(runtime.lambdas, original))


def _invoke_function(lambdas: LambdaRuntime) -> Callable:
    from moto.awslambda.exceptions import LambdaClientError

    def invoke(self, body: Any, request_headers: Any, response_headers: dict) -> bytes:
        try:
            event = json.loads(body) if body else {}
        except ValueError as exc:
            raise LambdaClientError(
                "InvalidRequestContentException", f"Could not parse request body into json: {exc}"
            ) from None
        invocation_type = request_headers.get("x-amz-invocation-type") or "RequestResponse"
        if invocation_type == "DryRun":
            return b""
        try:
            if invocation_type == "Event":
                lambdas.code_dir(self)  # a package that cannot run is refused now, as Lambda validates it
                threading.Thread(target=lambdas.run, args=(self, event), daemon=True).start()
                return b""
            outcome = lambdas.run(self, event)
        except LocalRuntimeError as exc:
            raise LambdaClientError("InvalidRuntimeException", str(exc)) from None
        if outcome.function_error:
            response_headers["x-amz-function-error"] = outcome.function_error
        response_headers["x-amz-log-result"] = outcome.log_tail
        response_headers["x-amz-executed-version"] = str(self.version)
        return outcome.payload

    return invoke


def _delete_function(lambdas: LambdaRuntime, original: Callable) -> Callable:
    def delete_function(self, function_name: str, qualifier: str | None = None) -> None:
        """A deleted function's warm workers stop with it (`down --keep-emulator` leaves no process behind)."""
        name = function_name.rsplit(":function:", 1)[-1].split(":", 1)[0]
        original(self, function_name, qualifier)
        prefix = f"arn:aws:lambda:{self.region_name}:{self.account_id}:function:{name}"
        lambdas.retire(lambda arn: arn == prefix or arn.startswith(prefix + ":"))

    return delete_function
