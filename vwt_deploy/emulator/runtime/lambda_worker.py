"""A warm Lambda sandbox: `python -m vwt_deploy.emulator.runtime.lambda_worker --code DIR --handler module.function`.

Started by `vwt_deploy.emulator.runtime.lambdas` (never by hand). It imports the handler
once (the init phase), then reads one JSON request per line on stdin:
`{"request_id", "event", "timeout_ms", "function_arn"}`, and answers on its
original stdout, one JSON message per line:

- `{"ready": true}` once, when the init phase is over,
- `{"log": text}` for what the handler prints or logs (its stdout and stderr, as they come),
- `{"done": {"result": ...} | {"error": {errorMessage, errorType, stackTrace}}, "init_ms", "max_rss_mb"}`.

What the handler writes to file descriptors 1 and 2 is captured through a pipe,
so the answers are never mixed with it.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import resource
import sys
import threading
import time
import traceback

_MARK = b"\x00vwt-lambda-invocation-end\x00\n"


class Context:
    """The `context` argument of a Python Lambda handler."""

    def __init__(self, request: dict):
        env = os.environ
        self.function_name = env["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = env["AWS_LAMBDA_FUNCTION_VERSION"]
        self.invoked_function_arn = request["function_arn"]
        self.memory_limit_in_mb = env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
        self.aws_request_id = request["request_id"]
        self.log_group_name = env["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = env["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.identity = None
        self.client_context = None
        self._deadline_ms = time.time() * 1000 + request["timeout_ms"]

    def get_remaining_time_in_millis(self) -> int:
        return max(int(self._deadline_ms - time.time() * 1000), 0)


class _Channel:
    """The answer pipe (the process's original stdout), written by one thread at a time."""

    def __init__(self, fd: int):
        self._out = os.fdopen(fd, "wb", buffering=0)
        self._lock = threading.Lock()

    def send(self, message: dict) -> None:
        line = json.dumps(message, default=str).encode() + b"\n"
        with self._lock:
            self._out.write(line)


def _capture_output(channel: _Channel) -> threading.Event:
    """Point fds 1 and 2 at a pipe whose text is forwarded as log messages; the event fires at each end mark."""
    read_fd, write_fd = os.pipe()
    os.dup2(write_fd, 1)
    os.dup2(write_fd, 2)
    os.close(write_fd)
    sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
    sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)
    marked = threading.Event()

    def forward() -> None:
        pending = b""
        with os.fdopen(read_fd, "rb", buffering=0) as pipe:
            while chunk := pipe.read(65536):
                pending += chunk
                while _MARK in pending:
                    before, pending = pending.split(_MARK, 1)
                    if before:
                        channel.send({"log": before.decode("utf-8", "replace")})
                    marked.set()
                if b"\n" in pending:  # whole lines go now; a partial line (or end mark) waits for the rest
                    head, _, pending = pending.rpartition(b"\n")
                    channel.send({"log": head.decode("utf-8", "replace") + "\n"})

    threading.Thread(target=forward, daemon=True).start()
    return marked


class _RequestIdFilter(logging.Filter):
    request_id = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.request_id
        return True


def _error(exc: BaseException, error_type: str | None = None, request_id: str = "") -> dict:
    frames = traceback.format_list(traceback.extract_tb(exc.__traceback__))
    return {
        "errorMessage": str(exc),
        "errorType": error_type or type(exc).__name__,
        "requestId": request_id,
        "stackTrace": frames,
    }


def _run(function, request: dict) -> dict:
    """{"result": ...} or {"error": ...} of one invocation; an error is logged as Lambda logs it."""
    request_id = request["request_id"]
    try:
        result = function(request["event"], Context(request))
    except Exception as exc:  # noqa: BLE001 - every error of the handler goes back to the caller
        error = _error(exc, request_id=request_id)
        print(
            f"[ERROR] {error['errorType']}: {exc}\nTraceback (most recent call last):\n{''.join(error['stackTrace'])}",
            file=sys.stderr,
        )
        return {"error": error}
    try:
        json.dumps(result)
    except (TypeError, ValueError) as exc:
        return {
            "error": {
                "errorMessage": f"Unable to marshal response: {exc}",
                "errorType": "Runtime.MarshalError",
                "requestId": request_id,
                "stackTrace": [],
            }
        }
    return {"result": result}


def _load(code_dir: str, handler: str):
    """The handler function, or the error dict Lambda answers when it cannot be loaded."""
    module_name, _, function_name = handler.rpartition(".")
    if not module_name:
        return {
            "errorMessage": f"Bad handler '{handler}': not enough values to unpack (expected 2, got 1)",
            "errorType": "Runtime.MalformedHandlerName",
            "requestId": "",
            "stackTrace": [],
        }
    sys.path.insert(0, code_dir)
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except Exception as exc:  # noqa: BLE001 - reported as Lambda reports it
        return _error(type(exc)(f"Unable to import module '{module_name}': {exc}"), "Runtime.ImportModuleError")
    function = getattr(module, function_name, None)
    if function is None:
        return {
            "errorMessage": f"Handler '{function_name}' missing on module '{module_name}'",
            "errorType": "Runtime.HandlerNotFound",
            "requestId": "",
            "stackTrace": [],
        }
    return function


def _max_memory_mb() -> int:
    """This process's peak resident memory (VmHWM: ru_maxrss would include the emulator it was forked from)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vwt_deploy.emulator.runtime.lambda_worker")
    parser.add_argument("--code", required=True)
    parser.add_argument("--handler", required=True)
    args = parser.parse_args(argv)

    channel = _Channel(os.dup(1))
    marked = _capture_output(channel)
    ids = _RequestIdFilter()
    log_handler = logging.StreamHandler(sys.stderr)
    log_handler.setFormatter(
        logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s", "%Y-%m-%dT%H:%M:%S"
        )
    )
    log_handler.formatter.converter = time.gmtime
    log_handler.addFilter(ids)
    logging.getLogger().addHandler(log_handler)

    started = time.perf_counter()
    function = _load(args.code, args.handler)
    init_ms = (time.perf_counter() - started) * 1000
    sys.stdout.flush()
    sys.stderr.flush()
    channel.send({"ready": True})

    for line in sys.stdin.buffer:
        request = json.loads(line)
        ids.request_id = request["request_id"]
        outcome = {"error": function} if isinstance(function, dict) else _run(function, request)
        sys.stdout.flush()
        sys.stderr.flush()
        marked.clear()
        os.write(1, _MARK)
        marked.wait()
        channel.send(
            {"done": outcome, "init_ms": init_ms, "max_rss_mb": _max_memory_mb(), "retire": isinstance(function, dict)}
        )
        init_ms = None
        if isinstance(function, dict):
            return 1  # an init failure: the next invocation starts a new sandbox, as on Lambda
    return 0


if __name__ == "__main__":
    # run as a script (`python -S lambda_worker.py`): its own folder is not the function's to import from
    sys.path = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]
    sys.exit(main())
