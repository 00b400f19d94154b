"""Predictions under faults: 8 clients ask for predictions for 60 s while a retraining deploys a new model and the
endpoint's serve process is killed (-9).

Goal (issue "faults heal as they do on AWS"): no request fails because of the deployment; only the requests in
flight when the process dies fail, and those sent before its replacement answers. Failures are counted by cause
from their times: a failure between the kill and the first answer after it is the kill's; any other is the
deployment's. Runs in a throw-away copy of the project, with its own emulator, stopped at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL = "gb-problem-gambling"
CLIENTS = 8
SECONDS = 60.0


def main(argv: list[str] | None = None) -> dict:
    sys.path.insert(0, str(ROOT))
    from tests.helpers import copy_project, emulator_clients, process_of
    from tests.helpers.deployflow import cli_of
    from tests.helpers.emulator import RunningEmulator
    from vwt_deploy.emulator.manager import Emulator
    from vwt_deploy.operate.predict import PredictionClient

    tmp = Path(tempfile.mkdtemp(prefix="vwt-faults-bench-"))
    project = copy_project(tmp)
    cli = cli_of(project)
    try:
        cli("up", "--env", "local", "--yes")
        cli("data", "sample", "--env", "local", "--rows", "3000", "--seed", "1")
        cli("retrain", "--env", "local", "--model", MODEL, "--wait")
        status = json.loads(cli("status", "--env", "local", "--json"))
        info = Emulator(project / ".vwt" / "emulator").running()
        assert info is not None
        gateway = emulator_clients(info.url)("apigateway")
        operator, key_id = next(iter(status["outputs"]["api_key_ids"].items()))
        api = PredictionClient(status["local_api_url"], gateway.get_api_key(apiKey=key_id, includeValue=True)["value"])
        record = {
            "user_id": "bench-1", "deposits_per_week": 3.0, "avg_deposit": 50.0, "stake_per_day": 40.0,
            "session_minutes": 35.0, "night_play_share": 0.4, "loss_chasing_ratio": 0.3, "cancelled_withdrawals": 1,
            "deposit_limit_changes": 0, "days_active": 200, "product": "casino",
        }  # fmt: skip
        results: list[tuple[float, float, str | None]] = []  # (sent, answered, version or None when it failed)
        lock = threading.Lock()
        stop = threading.Event()
        started = time.monotonic()

        def client() -> None:
            while not stop.is_set():
                sent = time.monotonic() - started
                try:
                    version: str | None = api.post(MODEL, [record])["model_version"]
                except Exception:  # noqa: BLE001 - a failed request is what this counts
                    version = None
                with lock:
                    results.append((sent, time.monotonic() - started, version))

        threads = [threading.Thread(target=client, daemon=True) for _ in range(CLIENTS)]
        for t in threads:
            t.start()
        time.sleep(3)
        deploy_started = time.monotonic() - started
        cli("retrain", "--env", "local", "--model", MODEL, "--tune", "--wait")  # a better model deploys
        deployed = time.monotonic() - started
        time.sleep(3)
        pid = process_of(RunningEmulator(Emulator(project / ".vwt" / "emulator"), info), f"endpoint vwt-local-{MODEL} ")
        assert pid is not None, "no serve process to kill"
        killed = time.monotonic() - started
        os.kill(pid, signal.SIGKILL)
        while time.monotonic() - started < max(SECONDS, killed + 15):
            time.sleep(0.5)
        stop.set()
        for t in threads:
            t.join(timeout=60)
    finally:
        Emulator(project / ".vwt" / "emulator").stop()
        shutil.rmtree(tmp, ignore_errors=True)

    answered_after_kill = [a for s, a, v in results if v is not None and s >= killed]
    healed = min(answered_after_kill) if answered_after_kill else float("inf")
    failed = [(s, a) for s, a, v in results if v is None]
    of_kill = [(s, a) for s, a in failed if a >= killed and s <= healed]
    in_flight = [(s, a) for s, a in of_kill if s < killed]
    of_deployment = len(failed) - len(of_kill)
    versions = sorted({v for _, _, v in results if v})
    figures = {
        "clients": CLIENTS,
        "seconds": round(max(a for _, a, _ in results), 1),
        "requests": len(results),
        "requests_per_s": round(len(results) / max(a for _, a, _ in results), 1),
        "deployment_s": round(deployed - deploy_started, 1),
        "failed": len(failed),
        "failed_by_deployment": of_deployment,
        "failed_by_kill": len(of_kill),
        "failed_by_kill_in_flight": len(in_flight),
        "kill_to_first_answer_s": round(healed - killed, 2),
        "model_versions_seen": len(versions),
    }
    rows = [
        ("requests (8 clients)", figures["requests"], ""),
        ("requests per second", figures["requests_per_s"], ""),
        ("retraining with tuning, deployed in (s)", figures["deployment_s"], ""),
        ("failed by the deployment", of_deployment, "0: " + ("met" if of_deployment == 0 else "MISSED")),
        ("failed by the kill: in flight", len(in_flight), ""),
        ("failed by the kill: sent before the replacement answered", len(of_kill) - len(in_flight), ""),
        ("kill to first answer (s)", figures["kill_to_first_answer_s"], ""),
        ("model versions answered", len(versions), "2 (old and new)"),
    ]
    for name, value, goal in rows:
        print(f"{name:<58} {value:>8}  {goal}")
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
