"""The local framework end to end (issue "local runtime"): the wall time of each step, and the prediction
latency through the local API (API key check, throttling, the prediction Lambda, the SageMaker endpoint).

Steps, in a throw-away copy of the project with its own emulator (stopped at the end):
up -> data sample -> retrain (train) -> predict --sample 5 -> retrain --tune -> predict --sample 5 -> down.
Latency: one record per POST over a keep-alive connection per client, at 1 and 8 concurrent clients, after
a warm-up round; the API's throttle is lifted for the run (the local default allows 100 requests/s).
"""

from __future__ import annotations

import http.client
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
MODEL = "gb-problem-gambling"
RECORD = {
    "user_id": "bench-1",
    "deposits_per_week": 3.0,
    "avg_deposit": 50.0,
    "stake_per_day": 40.0,
    "session_minutes": 35.0,
    "night_play_share": 0.4,
    "loss_chasing_ratio": 0.3,
    "cancelled_withdrawals": 1,
    "deposit_limit_changes": 0,
    "days_active": 200,
    "product": "casino",
}


def _step(cli: list[str], *args: str) -> tuple[float, str]:
    started = time.perf_counter()
    res = subprocess.run([*cli, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    took = time.perf_counter() - started
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}")
    return took, res.stdout


def _latencies(url: str, key: str, clients: int, per_client: int) -> tuple[list[float], float]:
    parts = urlsplit(url)
    path = f"{parts.path}/v1/models/{MODEL}/predictions"
    body = json.dumps({"records": [RECORD]}).encode()
    headers = {"x-api-key": key, "Content-Type": "application/json"}
    times: list[float] = []
    errors: list[int] = []
    lock = threading.Lock()

    def client() -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        mine = []
        for _ in range(per_client):
            started = time.perf_counter()
            conn.request("POST", path, body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            mine.append(time.perf_counter() - started)
            if resp.status != 200:
                errors.append(resp.status)
        conn.close()
        with lock:
            times.extend(mine)

    def round_() -> float:
        threads = [threading.Thread(target=client) for _ in range(clients)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return time.perf_counter() - started

    round_()  # warm-up, not counted: every Lambda worker imported, every connection open
    times.clear()
    wall = round_()
    if errors:
        raise SystemExit(f"{len(errors)} requests failed: {errors[:5]}")
    return times, len(times) / wall


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main(argv: list[str] | None = None) -> dict:
    sys.path.insert(0, str(ROOT))
    import boto3

    from tests.helpers import copy_project
    from vwt_deploy.emulator.manager import Emulator

    tmp = Path(tempfile.mkdtemp(prefix="vwt-runtime-bench-"))
    project = copy_project(tmp)
    cli = [sys.executable, "-m", "vwt_deploy.cli", "--project-dir", str(project)]
    steps: dict[str, float] = {}
    latency: dict[str, dict] = {}
    try:
        # the local API's throttle (100 req/s, burst 200) is lifted: this measures latency, not the limit
        lifted = ("--set", "api.throttle_rate_limit=10000", "--set", "api.throttle_burst_limit=5000")
        steps["up --env local"], _ = _step(cli, "up", "--env", "local", "--yes", *lifted)
        steps["data sample (5,000 rows per bucket)"], _ = _step(cli, "data", "sample", "--env", "local")
        steps["retrain --wait (train, gate, deploy)"], _ = _step(
            cli, "retrain", "--env", "local", "--model", MODEL, "--wait"
        )
        steps["predict --sample 5"], _ = _step(cli, "predict", "--env", "local", "--model", MODEL, "--sample", "5")
        steps["retrain --tune --wait (6 jobs, 2 at a time)"], _ = _step(
            cli, "retrain", "--env", "local", "--model", MODEL, "--tune", "--wait"
        )
        steps["predict --sample 5 (tuned model)"], _ = _step(
            cli, "predict", "--env", "local", "--model", MODEL, "--sample", "5"
        )
        _, out = _step(cli, "status", "--env", "local", "--json")
        status = json.loads(out)
        info = Emulator(project / ".vwt" / "emulator").running()
        apigw = boto3.client(
            "apigateway",
            endpoint_url=info.url,
            region_name="eu-west-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        key = apigw.get_api_key(apiKey=status["outputs"]["api_key_ids"]["northbet"], includeValue=True)["value"]
        for clients, per_client in ((1, 300), (8, 100)):
            times, rate = _latencies(status["local_api_url"], key, clients, per_client)
            latency[f"{clients} client{'s' if clients > 1 else ''}"] = {
                "p50_ms": round(_pct(times, 0.50), 1),
                "p99_ms": round(_pct(times, 0.99), 1),
                "mean_ms": round(statistics.fmean(times) * 1000, 1),
                "requests_per_s": round(rate),
            }
        steps["down --env local"], _ = _step(cli, "down", "--env", "local", "--yes")
    finally:
        Emulator(project / ".vwt" / "emulator").stop()
        shutil.rmtree(tmp, ignore_errors=True)
    for name, took in steps.items():
        print(f"{name:<46} {took:>7.1f} s")
    for name, row in latency.items():
        print(
            f"API latency, {name:<10} p50 {row['p50_ms']:>6.1f} ms  p99 {row['p99_ms']:>6.1f} ms  "
            f"{row['requests_per_s']:>5} req/s"
        )
    return {"steps_s": {k: round(v, 1) for k, v in steps.items()}, "api_latency": latency}


if __name__ == "__main__":
    main(sys.argv[1:])
