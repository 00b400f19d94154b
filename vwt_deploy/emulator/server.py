"""The emulator process: moto's server on 127.0.0.1 with the fixes the AWS provider needs.

Run by `vwt-deploy local start` (never by hand) as
`python -m vwt_deploy.emulator.server --state-dir DIR [--port P]`. It binds the
port itself (0 = a free one chosen by the OS, so no race), holds an exclusive
lock on DIR/server.lock for its whole life (two emulators never serve one
project), writes DIR/server.json (pid, port, boot id, IAM mode) once it listens,
and answers GET /_vwt/health, GET /_vwt/iam/access and GET /_vwt/oidc/token (a GitHub Actions token signed by
the emulator, which its STS accepts: `webidentity`). SIGTERM stops it.

IAM is enforced per request (`enforcement`), in the mode `VWT_LOCAL_IAM` names
(enforce, the default; soft; off); decisions and denials are recorded in DIR/iam/.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import signal
import sys
import threading
import time
import urllib.parse
import uuid
from pathlib import Path

HEALTH_PATH = "/_vwt/health"
ACCESS_PATH = "/_vwt/iam/access"  # what each role used so far (enforcement.Recorder), for `vwt-deploy local access`
#: GitHub's token service, locally (webidentity.Issuer): `?sub=repo:<owner>/<name>:environment:<env>&audience=...`
TOKEN_PATH = "/_vwt/oidc/token"


def _health_middleware(app, info: dict, access=None, token=None):
    """The emulator's own paths: its health, the access record (`access()`), and tokens (`token(query)`, giving
    (status, body)); anything else goes to `app`."""

    def middleware(environ, start_response):
        path = environ.get("PATH_INFO")
        status, body = "200 OK", b""
        if path == HEALTH_PATH or (path == ACCESS_PATH and access is not None):
            body = json.dumps(info if path == HEALTH_PATH else access()).encode()
        elif path == TOKEN_PATH and token is not None:
            status, body = token(urllib.parse.parse_qs(environ.get("QUERY_STRING", "")))
        else:
            return app(environ, start_response)
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    return middleware


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vwt_deploy.emulator.server")
    parser.add_argument("--state-dir", required=True, type=Path)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--container-dir",
        type=Path,
        default=None,
        help="the training/serving image's code the runtime runs (default: the tool's own copy)",
    )
    args = parser.parse_args(argv)
    state_dir: Path = args.state_dir
    state_dir.mkdir(parents=True, exist_ok=True)

    with open(state_dir / "server.lock", "w") as lock:  # held (open and locked) for the server's whole life
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print("another emulator already serves this project", file=sys.stderr)
            return 3
        return _serve(state_dir, args.port, args.container_dir)


def _serve(state_dir: Path, port: int, container_dir: Path | None) -> int:
    """moto's server with the fixes and the runtime, until SIGTERM; the caller holds the lock."""
    # settings moto reads from the environment, before it is imported
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")

    from moto.core.config import default_user_config
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    from vwt_deploy.emulator import enforcement, fixes
    from vwt_deploy.emulator import runtime as local_runtime
    from vwt_deploy.emulator.webidentity import token_answer

    try:
        mode = enforcement.Mode.parse(os.environ.get(enforcement.MODE_ENV))
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 5
    fixes.apply_all()
    # interpret state machines (must be set before any state machine is created)
    default_user_config["stepfunctions"]["execute_state_machine"] = True

    info: dict = {"pid": os.getpid(), "boot_id": uuid.uuid4().hex, "started_at": time.time(), "iam": mode.value}
    routes: dict = {}  # the runtime's routes, known once the port is
    app = _health_middleware(
        lambda environ, start: routes["app"](environ, start),
        info,
        lambda: routes["enforcer"].recorder.snapshot(),
        lambda query: token_answer(routes["enforcer"].web_identity.issuer, query),
    )
    try:  # port 0: the OS picks a free port as it binds, so no other process can take it in between
        server = make_server("127.0.0.1", port, app, threaded=True, request_handler=MotoRequestHandler)
    except (OSError, SystemExit):  # werkzeug reports a taken port and exits itself
        print(f"port {port} is busy", file=sys.stderr)
        return 4
    port = info["port"] = server.server_port
    os.environ["MOTO_PORT"] = str(port)  # moto's Step Functions interpreter calls back to this port
    # the local runtime: training, serving, Lambda, API Gateway and Step Functions integrations run here
    url = f"http://127.0.0.1:{port}"
    enforcer = routes["enforcer"] = enforcement.Enforcer(mode, enforcement.admin_clients(url), state_dir / "iam")
    enforcement.install(enforcer)
    runtime = local_runtime.install(state_dir, port, container_dir, enforcer)
    moto_app = enforcer.middleware(DomainDispatcherApplication(create_backend_app))
    routes["app"] = local_runtime.wsgi(moto_app, runtime)

    def stop(signum, frame):  # shutdown() blocks until serve_forever returns, so call it from another thread
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    tmp = state_dir / "server.json.tmp"
    tmp.write_text(json.dumps(info))
    tmp.replace(state_dir / "server.json")
    print(f"emulator listening on http://127.0.0.1:{port} (pid {info['pid']})", flush=True)
    try:
        server.serve_forever()
    finally:
        runtime.stop_all()  # every training job, endpoint and Lambda worker the runtime started
        (state_dir / "server.json").unlink(missing_ok=True)
    print("emulator stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
