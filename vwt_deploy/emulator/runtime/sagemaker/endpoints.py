"""Endpoints: `python -m vwt_model serve` for the configuration's first production variant, and invocations.

An endpoint starts its serve process on a free port and is InService once GET /ping answers (or Failed with the
reason). An update starts the new configuration's process and switches traffic only once it is healthy; the
old one stops when its requests in flight are done. A serve process that dies on its own is replaced (the endpoint
stays InService, the restart is logged and counted), as SageMaker replaces an unhealthy instance; a crash loop, or
a process that cannot start again, makes the endpoint Failed with the reason.
Its log goes to CloudWatch Logs (`/aws/sagemaker/Endpoints/<endpoint>`). `EndpointState.invoke`
forwards an invocation to the current process over a keep-alive pool.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from vwt_deploy.emulator.runtime import free_port
from vwt_deploy.emulator.runtime.sagemaker.capture import CaptureWriter
from vwt_deploy.emulator.runtime.sagemaker.common import (
    DEFAULT_STARTUP_TIMEOUT,
    DRAIN_TIMEOUT,
    ENDPOINT_LOG_GROUP,
    FAILURE_REASON_MAX,
    INVOKE_TIMEOUT,
    LOG_SHIP_SECONDS,
    AccessError,
    ArtifactError,
    LogShipper,
    execution_session,
    fetch_model,
    listen_failed,
    log,
    pull_image,
    serve_argv,
    tail,
    utcnow,
    wait_healthy,
)

if TYPE_CHECKING:
    from vwt_deploy.emulator.runtime import Runtime


#: a serve process that dies this many times within this many seconds is not replaced again: the endpoint is Failed
CRASH_LOOP_RESTARTS = 3
CRASH_LOOP_SECONDS = 300


class StartError(Exception):
    """A serve process that could not start, with the reason."""


def start_failure(exc: Exception) -> str:
    if not isinstance(exc, StartError):  # a bug here: the endpoint still leaves Creating/Updating, saying why
        log.exception("starting a serve process")
        return f"internal error of the local runtime: {type(exc).__name__}: {exc}"
    return str(exc)


class InvokeError(Exception):
    """An invocation that did not reach the model: the endpoint is unknown or not InService (`ValidationError`),
    or its process did not answer (`ServiceUnavailable`)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


class ModelError(Exception):
    """The model answered with an error status."""

    def __init__(self, message: str, status: int, original: str):
        super().__init__(message)
        self.status, self.original = status, original


class Served:
    """One `python -m vwt_model serve` process of an endpoint configuration, and its keep-alive pool."""

    def __init__(self, runtime: Runtime, proc: subprocess.Popen, port: int, config: str, variant: str, folder: Path):
        import urllib3

        self.runtime = runtime
        self.proc, self.port, self.config, self.variant, self.folder = proc, port, config, variant, folder
        self.log_path = folder.with_name(folder.name + ".log")
        self.pool = urllib3.HTTPConnectionPool(
            "127.0.0.1",
            port,
            maxsize=32,
            block=False,
            timeout=urllib3.Timeout(connect=5, read=INVOKE_TIMEOUT),
            retries=urllib3.Retry(
                total=2, connect=2, read=1, status=0, redirect=0, allowed_methods=None, raise_on_status=False
            ),
        )  # predictions are pure: a retry on a closed keep-alive is safe
        self.inflight = 0
        self.retired = False
        self.capture: CaptureWriter | None = None  # the configuration's data capture, if it has one

    def stop(self) -> None:
        """Stop the process (it drains its requests in flight) and remove its model folder; the log stays."""
        self.retired = True
        if self.capture is not None:
            self.capture.flush()
        self.pool.close()
        self.runtime.stop(self.proc, timeout=30)
        shutil.rmtree(self.folder, ignore_errors=True)

    def wait_healthy(self, timeout: float) -> str | None:
        """None once GET /ping answers 200, else why not."""
        return wait_healthy(self.proc, self.pool, self.log_path, timeout)


class EndpointState:
    """The serve process behind one endpoint; `lock` guards `current` and every process's in-flight count."""

    def __init__(self, runtime: Runtime, backend, name: str):
        self.runtime, self.backend, self.name = runtime, backend, name
        self.lock = threading.Condition()
        self.current: Served | None = None
        self.deleted = False
        self.restarts: list[float] = []  # when its serve process was last replaced (monotonic), for the crash loop
        self.restart_count = 0  # serve processes replaced since the endpoint was created

    @property
    def record(self):
        return self.backend.endpoints.get(self.name)

    def close(self) -> None:
        with self.lock:
            self.deleted = True
            served, self.current = self.current, None
            if served is not None:
                served.retired = True
        if served is not None:
            served.stop()

    def acquire(self) -> Served | None:
        with self.lock:
            served = self.current
            if served is not None:
                served.inflight += 1
            return served

    def release(self, served: Served) -> None:
        with self.lock:
            served.inflight -= 1
            self.lock.notify_all()

    def switch(self, new: Served, apply: Callable[[], None]) -> Served | None:
        """Make `new` the current process (running `apply()` under the lock); return the old one, retired."""
        with self.lock:
            if self.deleted:
                new.retired = True
                old = new
            else:
                old, self.current = self.current, new
                apply()
            if old is not None:
                old.retired = True
        return old

    def retire(self, old: Served) -> None:
        """Stop `old` once its requests in flight are done."""
        with self.lock:
            self.lock.wait_for(lambda: old.inflight == 0, timeout=DRAIN_TIMEOUT)
        old.stop()

    def retire_current(self) -> None:
        """The emulator stops: the current process's end is not a failure of the endpoint."""
        with self.lock:
            if self.current is not None:
                self.current.retired = True

    # ------------------------------------------------------------------ starting a configuration
    def start_serving(self, config_name: str) -> Served:
        """Download the configuration's model, start its serve process and wait for GET /ping. Raises StartError."""
        variant, container, role = self._container(config_name)
        try:  # SageMaker reads the model, pulls the image and writes the capture with the model's execution role
            credentials = execution_session(self.runtime, role)
            pull_image(self.runtime, credentials, container.get("Image", ""))
        except AccessError as exc:
            raise StartError(str(exc)) from None
        url = container["ModelDataUrl"]
        folder = self._model_dir(config_name)
        self._fetch_model(url, folder, credentials)
        env = {
            **(container.get("Environment") or {}),
            "PYTHONPATH": str(self.runtime.container_dir),
            "PYTHONUNBUFFERED": "1",
        }
        timeout = float(variant.get("ContainerStartupHealthCheckTimeoutInSeconds") or DEFAULT_STARTUP_TIMEOUT)
        for _attempt in range(3):  # a port taken between free_port() and the child's bind: try another
            served, why, clash = self._serve(config_name, variant["VariantName"], folder, env, timeout)
            if served is not None:
                served.capture = CaptureWriter.of(
                    self.runtime,
                    self.backend.region_name,
                    self.name,
                    variant["VariantName"],
                    self.backend.endpoint_configs.get(config_name),
                    credentials,
                )
                return served
            if not clash:
                break
        shutil.rmtree(folder, ignore_errors=True)
        raise StartError(why)

    def _container(self, config_name: str) -> tuple[dict, dict, str]:
        """The configuration's first production variant, its model's container (with a ModelDataUrl) and the
        model's execution role."""
        config = self.backend.endpoint_configs.get(config_name)
        if config is None or not config.production_variants:
            raise StartError(f"endpoint configuration {config_name} does not exist or has no production variant")
        variant = config.production_variants[0]
        model = self.backend._models.get(variant["ModelName"])
        if model is None:
            raise StartError(f"model {variant['ModelName']} of endpoint configuration {config_name} does not exist")
        container = model.primary_container or (model.containers or [None])[0] or {}
        if not container.get("ModelDataUrl"):
            raise StartError(f"model {model.model_name} has no ModelDataUrl: the local runtime serves a model.tar.gz")
        return variant, container, model.execution_role_arn

    def _model_dir(self, config: str) -> Path:
        base = self.runtime.work / "endpoints" / self.name / config
        folder, n = base, 1
        while folder.exists():  # a folder a running process may still read is never rewritten
            n += 1
            folder = base.with_name(f"{config}-{n}")
        folder.mkdir(parents=True)
        return folder

    def _fetch_model(self, url: str, folder: Path, credentials) -> None:
        try:
            fetch_model(self.runtime, self.backend.region_name, url, folder, credentials)
        except ArtifactError as exc:
            raise StartError(str(exc)) from None

    def _serve(
        self, config_name: str, variant: str, folder: Path, env: dict, timeout: float
    ) -> tuple[Served | None, str | None, bool]:
        """One try at a serve process: (the healthy process, None, False), or (None, why not, whether its port
        was taken)."""
        log_path = folder.with_name(folder.name + ".log")
        port = free_port()
        offset = log_path.stat().st_size if log_path.exists() else 0
        proc = self.runtime.spawn(
            f"endpoint {self.name} ({config_name})", serve_argv(port, folder), env=env, log_path=log_path
        )
        served = Served(self.runtime, proc, port, config_name, variant, folder)
        why = served.wait_healthy(timeout)
        if why is None:
            threading.Thread(target=self._watch, args=(served,), daemon=True, name=f"watch {self.name}").start()
            return served, None, False
        served.retired = True
        served.pool.close()
        self.runtime.stop(proc)
        return None, why, listen_failed(log_path, offset)

    def _watch(self, served: Served) -> None:
        """Ship the serve process's log to CloudWatch Logs while it runs. A process that dies on its own is replaced,
        as SageMaker replaces an instance whose container stops answering: the endpoint stays InService while a new
        process of the same configuration starts. Failed, with the exit code and the log's tail, only when it cannot
        start again, or after CRASH_LOOP_RESTARTS restarts within CRASH_LOOP_SECONDS (a crash loop)."""
        shipper = LogShipper(
            self.runtime,
            self.backend,
            ENDPOINT_LOG_GROUP.format(endpoint=self.name),
            f"{served.variant}/{served.config}",
            served.log_path,
        )
        while True:
            try:
                code = served.proc.wait(LOG_SHIP_SECONDS)
                break
            except subprocess.TimeoutExpired:
                shipper.flush()
        if served.retired or self.runtime.stopping:
            shipper.flush(final=True)
            return
        self.runtime.forget(served.proc)
        now = time.monotonic()
        self.restarts = [t for t in self.restarts if now - t < CRASH_LOOP_SECONDS]
        looping = len(self.restarts) >= CRASH_LOOP_RESTARTS
        with served.log_path.open("a") as log_file:  # the endpoint's log says what happened, as SageMaker's does
            log_file.write(
                f"vwt-local: the serving process exited with code {code}; "
                + (
                    f"it exited {len(self.restarts) + 1} times within {CRASH_LOOP_SECONDS} s: the endpoint is Failed\n"
                    if looping
                    else f"starting a new one (restart {self.restart_count + 1})\n"
                )
            )
        shipper.flush(final=True)
        reason = (
            f"the serving process of endpoint configuration {served.config} exited with code {code}"
            + (f", {len(self.restarts) + 1} times within {CRASH_LOOP_SECONDS} s" if looping else "")
            + f"; last log lines:\n{tail(served.log_path)}"
        )
        replacement = None
        if not looping:
            self.restarts.append(now)
            self.restart_count += 1
            log.warning("endpoint %s: its serve process exited with code %s; starting a new one", self.name, code)
            try:
                replacement = self.start_serving(served.config)
            except Exception as exc:  # noqa: BLE001 - it cannot start again: the endpoint is Failed, saying why
                reason = f"{reason}\nand a new serving process could not start: {start_failure(exc)}"
        with self.lock:
            if served.retired or self.deleted:  # an update or a delete won meanwhile
                if replacement is not None:
                    replacement.retired = True
            else:
                served.retired = True
                if replacement is not None and self.current is served:
                    self.current = replacement
                    replacement = None  # in service
                elif self.current is served:
                    self.current = None
                    record = self.record
                    if record is not None:
                        record.endpoint_status = "Failed"
                        record.failure_reason = reason[:FAILURE_REASON_MAX]
                        record.last_modified_time = utcnow()
        if replacement is not None:
            replacement.stop()
        served.pool.close()

    # ------------------------------------------------------------------ create, update
    def create(self, endpoint, config_name: str) -> None:
        """Serve `endpoint` (moto's record) with `config_name`: InService once healthy, or Failed with the reason."""
        try:
            served = self.start_serving(config_name)
        except Exception as exc:  # noqa: BLE001 - every failure is the endpoint's FailureReason
            endpoint.endpoint_status, endpoint.failure_reason = "Failed", start_failure(exc)[:FAILURE_REASON_MAX]
            return
        if self.switch(served, lambda: setattr(endpoint, "endpoint_status", "InService")) is served:
            served.stop()  # deleted while it started

    def update(self, config_name: str) -> None:
        """Switch to `config_name` once its process is healthy; on a failure stay on the old configuration."""
        record = self.record
        try:
            new = self.start_serving(config_name)
        except Exception as exc:  # noqa: BLE001 - every failure leaves the endpoint on its old configuration
            if record is not None and not self.deleted:
                record.endpoint_status = "InService" if self.current is not None else "Failed"
                record.failure_reason = (
                    f"Failed to update the endpoint to configuration {config_name}: {start_failure(exc)}"
                )[:FAILURE_REASON_MAX]
                record.last_modified_time = utcnow()
            return

        def apply() -> None:
            config = self.backend.endpoint_configs.get(config_name)
            record.endpoint_config_name = config_name
            if config is not None:
                record.production_variants = record._process_production_variants(config.production_variants)
            record.failure_reason = None
            record.endpoint_status, record.last_modified_time = "InService", utcnow()

        old = self.switch(new, apply)
        if old is not None:
            self.retire(old)

    # ------------------------------------------------------------------ invocations
    def invoke(self, body: bytes, headers: dict[str, str], account: str) -> tuple[dict[str, str], bytes]:
        """POST /invocations to the current process: (SageMaker's response headers, body). Raises InvokeError
        or ModelError."""
        import urllib3

        record = self.record
        served = self.acquire() if record.endpoint_status in ("InService", "Updating") else None
        if served is None:
            why = f": {record.failure_reason}" if record.failure_reason else ""
            raise InvokeError(
                "ValidationError",
                f"Endpoint {self.name} of account {account} is in status {record.endpoint_status}, not InService{why}",
            )
        try:
            response = served.pool.urlopen("POST", "/invocations", body=body, headers=headers)
        except urllib3.exceptions.HTTPError as exc:
            raise InvokeError(
                "ServiceUnavailable",
                f"endpoint {self.name}: its serving process did not answer ({exc}); see {served.log_path}",
            ) from None
        finally:
            self.release(served)
        out, answer = _answer(response, served)
        if served.capture is not None:
            request_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
            served.capture.record(body, request_type, answer, out["Content-Type"])
        return out, answer


def _answer(response, served: Served) -> tuple[dict[str, str], bytes]:
    body = response.data
    if response.status >= 400:
        kind = "client" if response.status < 500 else "server"
        text = body.decode(errors="replace")
        raise ModelError(
            f'Received {kind} error ({response.status}) from primary with message "{text}". '
            f"See the endpoint's log {served.log_path} for more information.",
            response.status,
            text,
        )
    out = {
        "Content-Type": response.headers.get("Content-Type", "application/octet-stream"),
        "x-Amzn-Invoked-Production-Variant": served.variant,
    }
    custom = response.headers.get("X-Amzn-SageMaker-Custom-Attributes")
    if custom:
        out["X-Amzn-SageMaker-Custom-Attributes"] = custom
    return out, body
