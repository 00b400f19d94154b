"""`serve`: SageMaker's serving contract: GET /ping, POST /invocations on one port (default 8080).

A threaded standard-library HTTP/1.1 server with keep-alive: the model runs in
onnxruntime (which releases the GIL), so a thread per connection is enough, and
the server adds only a few tens of microseconds per request. Each response is
written in one piece with TCP_NODELAY (no Nagle/delayed-ACK stalls).

- GET /ping: 200 once the model is loaded, 503 before.
- POST /invocations: text/csv (no header, training order) or application/json
  (a record, a list of records, or {"records": [...]}); answers
  {"predictions": [...], "model_version": "..."}, or, when the request's Accept
  prefers text/csv (as a batch transform with Accept text/csv sends it), text/csv:
  one prediction per line, in order, each as Python's repr of the float (the
  same digits as the JSON answer), every line ending in a newline. Bad input gets
  400 (415 for an unsupported content type, 413 for a body or batch too large)
  with a JSON message naming what is wrong; never 500.
- In a batch transform (SAGEMAKER_BATCH=true, which SageMaker sets there), a request
  may be as large as SAGEMAKER_MAX_PAYLOAD_IN_MB (MiB; default 6) and hold any
  number of rows (the payload bounds it), unless VWT_MAX_BODY_BYTES or
  VWT_MAX_ROWS say otherwise.
- SIGTERM (and SIGINT): stop accepting, let requests in flight finish, close
  idle keep-alive connections, exit within 30 s.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

from .paths import MlPaths

if TYPE_CHECKING:
    from .predictor import Predictor  # imported when the model loads: /ping answers before numpy is in

MIB = 1024 * 1024
#: SageMaker sets these in a batch transform's container ("Use Your Own Inference Code with Batch Transform")
BATCH = os.environ.get("SAGEMAKER_BATCH", "").strip().lower() == "true"
BATCH_PAYLOAD_MB = os.environ.get("SAGEMAKER_MAX_PAYLOAD_IN_MB", "").strip()


def _batch_body_bytes() -> int:
    """The largest body a batch transform sends: SAGEMAKER_MAX_PAYLOAD_IN_MB (MiB; 6 by default, as SageMaker's)."""
    try:
        mb = int(BATCH_PAYLOAD_MB) if BATCH_PAYLOAD_MB else 6
    except ValueError:
        mb = 6
    return max(mb, 1) * MIB  # 0 asks for chunked bodies, which are refused (411) whatever the limit


#: SageMaker's payload limit (an endpoint's 6 MiB; a batch transform's MaxPayloadInMB)
MAX_BODY_BYTES = int(os.environ.get("VWT_MAX_BODY_BYTES") or (_batch_body_bytes() if BATCH else 6 * MIB))
#: rows a request may hold (in a batch transform the payload bounds them: a mini-batch is as many as fit)
MAX_ROWS = int(os.environ.get("VWT_MAX_ROWS") or (1 << 62 if BATCH else 10000))
DRAIN_SECONDS = float(os.environ.get("VWT_DRAIN_SECONDS", "25"))  # SageMaker waits 30 s before SIGKILL
IDLE_TIMEOUT = float(os.environ.get("VWT_IDLE_TIMEOUT", "75"))


def log(message: str) -> None:
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} serve: {message}", file=sys.stderr, flush=True)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "vwt-model"
    sys_version = ""
    timeout = IDLE_TIMEOUT
    server: ModelServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.busy = False
        self.server.track(self, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self, False)

    def handle_one_request(self) -> None:
        if self.server.draining:
            self.close_connection = True
            return
        super().handle_one_request()
        self.busy = False

    def parse_request(self) -> bool:  # called once the request line is read: the request is in flight
        self.busy = True
        return super().parse_request()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base class's name)
        pass  # no per-request log line: it would cost more than the prediction

    def log_error(self, format: str, *args) -> None:  # noqa: A002
        log("client error: " + (format % args))

    # ---- responses
    def _send(self, status: int, payload: dict, close: bool = False) -> None:
        self._write(status, "application/json", json.dumps(payload, separators=(",", ":")).encode(), close)

    def _send_csv(self, predictions: list[float]) -> None:
        """200 text/csv: one prediction a line, in order, repr-exact (the JSON answer's digits), newline-ended."""
        self._write(200, "text/csv", ("\n".join(map(repr, predictions)) + "\n").encode())

    def _write(self, status: int, content_type: str, body: bytes, close: bool = False) -> None:
        close = close or self.server.draining
        head = (
            f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
            + ("Connection: close\r\n" if close else "")
            + "\r\n"
        ).encode("latin-1")
        if close:
            self.close_connection = True
        try:
            self.wfile.write(head + body)
        except OSError:
            self.close_connection = True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Errors the base class finds (malformed request line or headers): JSON, and never a 5xx for them."""
        if code == 501:  # an unknown method is the client's error
            code, message = 405, f"method {self.command!r} is not allowed: use GET /ping or POST /invocations"
        self._error(code, message or self.responses.get(code, ("error",))[0], close=True)

    def _error(self, status: int, message: str, close: bool = False) -> None:
        self._send(status, {"error": message}, close)

    # ---- routes
    def do_GET(self) -> None:  # noqa: N802
        path = self.path.split("?", 1)[0]
        if path == "/ping":
            predictor = self.server.predictor
            if predictor is None:
                self._error(503, "the model is loading")
            else:
                self._send(200, {"status": "ok", "model_version": predictor.version})
        else:
            self._error(404, f"no route GET {path}: use GET /ping or POST /invocations")

    def do_POST(self) -> None:  # noqa: N802
        path = self.path.split("?", 1)[0]
        if path != "/invocations":
            self._drain_body()
            self._error(404, f"no route POST {path}: use POST /invocations")
            return
        from .predictor import BadInput

        length_header = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding", "").lower() not in ("", "identity"):
            self._error(411, "chunked bodies are not accepted: send a Content-Length", close=True)
            return
        if length_header is None:
            self._error(411, "a Content-Length header is required", close=True)
            return
        try:
            length = int(length_header)
            if length < 0:
                raise ValueError
        except ValueError:
            self._error(400, f"invalid Content-Length {length_header[:40]!r}", close=True)
            return
        if length > MAX_BODY_BYTES:
            self._error(
                413, f"the body is {length} bytes; at most {MAX_BODY_BYTES} are accepted: split the batch", close=True
            )
            return
        try:
            body = self.rfile.read(length) if length else b""
        except OSError:
            self.close_connection = True
            return
        if len(body) < length:
            self.close_connection = True
            return
        content_type = (self.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
        predictor = self.server.predictor
        if predictor is None:
            self._error(503, "the model is loading: retry when GET /ping answers 200")
            return
        try:
            predictions = predictor.handle(body, content_type, MAX_ROWS)
        except BadInput as exc:
            self._error(exc.status, str(exc))
            return
        except Exception as exc:  # the model itself failed: a server fault, logged
            log(f"prediction failed: {type(exc).__name__}: {exc}")
            self._error(500, "the model failed to predict; see the endpoint's log")
            return
        self._predicted(predictions, predictor.version)

    def _predicted(self, predictions: list[float], version: str) -> None:
        """200: text/csv when the request's Accept prefers it, else JSON."""
        if wants_csv(self.headers.get("Accept")):
            self._send_csv(predictions)
        else:
            self._send(200, {"predictions": predictions, "model_version": version})

    def _not_allowed(self) -> None:
        self._drain_body()
        self._error(405, f"method {self.command} is not allowed: use GET /ping or POST /invocations")

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed  # noqa: N815

    def _drain_body(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        if 0 < length <= MAX_BODY_BYTES:
            self.rfile.read(length)
        elif length:
            self.close_connection = True


def wants_csv(accept: str | None) -> bool:
    """Whether an Accept header prefers text/csv to JSON: its media ranges by quality (ties in the order given);
    the first of text/csv and application/json (or */*, application/*) wins. No Accept, or one without text/csv,
    gets JSON, as before."""
    if not accept or "text/csv" not in accept.lower():
        return False
    ranked = []
    for i, part in enumerate(accept.split(",")):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranked.append((-quality, i, media.lower()))
    for negative_quality, _, media in sorted(ranked):
        if negative_quality >= 0:  # q=0: not acceptable
            break
        if media == "text/csv":
            return True
        if media in ("application/json", "application/*", "*/*"):
            return False
    return False


class ModelServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int]):
        super().__init__(address, Handler)
        self.predictor: Predictor | None = None  # set once the model has loaded
        self.draining = False
        self._handlers: set[Handler] = set()
        self._lock = threading.Lock()

    def track(self, handler: Handler, alive: bool) -> None:
        with self._lock:
            (self._handlers.add if alive else self._handlers.discard)(handler)

    def close_idle(self) -> int:
        """Shut the read side of idle keep-alive connections (their handler then ends); return how many are busy."""
        busy = 0
        with self._lock:
            handlers = list(self._handlers)
        for handler in handlers:
            if handler.busy:
                busy += 1
                continue
            with contextlib.suppress(OSError):  # the client has closed it already
                handler.connection.shutdown(socket.SHUT_RD)
        return busy

    def drain(self, deadline: float) -> None:
        self.draining = True
        while time.monotonic() < deadline:
            self.close_idle()
            with self._lock:
                if not self._handlers:
                    return
            time.sleep(0.05)
        log(f"{len(self._handlers)} connection(s) still open after the drain deadline; exiting anyway")


def load_in_background(server: ModelServer, model_dir: Path, failed: threading.Event) -> None:
    from .predictor import ModelError, Predictor

    started = time.perf_counter()
    try:
        server.predictor = p = Predictor(model_dir)
    except ModelError as exc:
        log(f"cannot serve: {exc}")
        failed.set()
        threading.Thread(target=server.shutdown, daemon=True).start()
        return
    except Exception as exc:  # onnxruntime or numpy missing or broken
        log(f"cannot serve: {type(exc).__name__}: {exc}")
        failed.set()
        threading.Thread(target=server.shutdown, daemon=True).start()
        return
    log(
        f"model {p.version} ({p.format}, {p.task}, {len(p.names)} features) loaded in "
        f"{time.perf_counter() - started:.2f}s; ready"
    )


def main(host: str = "0.0.0.0", port: int = 8080, model_dir: str | None = None) -> int:
    folder = Path(model_dir) if model_dir else MlPaths.from_env().model
    try:
        server = ModelServer((host, port))
    except OSError as exc:
        log(f"cannot listen on {host}:{port}: {exc}")
        return 1
    log(f"listening on {host}:{server.server_address[1]}, loading the model from {folder}")
    stop = threading.Event()
    failed = threading.Event()

    def on_signal(signum, _frame) -> None:
        if stop.is_set():
            return
        stop.set()
        log(f"{signal.Signals(signum).name}: draining")
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    threading.Thread(target=load_in_background, args=(server, folder, failed), daemon=True).start()
    deadline = None
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        deadline = time.monotonic() + DRAIN_SECONDS
        server.drain(deadline)
        server.server_close()
    log("stopped")
    return 1 if failed.is_set() else 0
