"""The device-token authorizer through the local API: its cold start, and the warm p50 of a device's prediction
with API Gateway's cache of the authorizer's answer off (cache_seconds 0: the authorizer runs on every call) and
on (300 s: once per token).

Two throw-away deployments of the project (each with its own emulator, stopped at the end) with device tokens on
and a test identity provider (tests/helpers/identity.py). The cold start: the authorizer's own, from its first
REPORT line (Init Duration: importing PyJWT and cryptography; Duration: fetching the JWKS and checking the token),
and the first device call after `up` minus the warm p50 (the authorizer and the prediction function both cold).
Also measured: the authorizer package's size.
"""

from __future__ import annotations

import copy
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL = "gb-problem-gambling"
CALLS = 60


def _deployment(cache_seconds: int, provider) -> tuple[Path, str, dict]:
    import yaml

    from tests.helpers import copy_project
    from tests.helpers.deployflow import cli_of
    from vwt_deploy.build import openapi
    from vwt_deploy.config import load

    project = copy_project(Path(tempfile.mkdtemp(prefix="vwt-authorizer-bench-")))
    catalogue = project / "environments" / "models.yaml"
    data = yaml.safe_load(catalogue.read_text())
    data["operators"][0]["identity"] = provider.identity()
    catalogue.write_text(yaml.safe_dump(data, sort_keys=False))
    local = project / "environments" / "local.yaml"
    config = yaml.safe_load(local.read_text())
    config.setdefault("api", {})["device_tokens"] = {"enabled": True, "cache_seconds": cache_seconds}
    local.write_text(yaml.safe_dump(config, sort_keys=False))
    cli = cli_of(project)
    cli("up", "--env", "local", "--yes")
    base = json.loads(cli("status", "--env", "local", "--json"))["local_api_url"]
    operation = openapi.document(load("local", project))["paths"][openapi.path_of(MODEL)]["post"]
    record = operation["requestBody"]["content"]["application/json"]["examples"]["required-only"]["value"]["records"]
    return project, f"{base}/v1/operators/{data['operators'][0]['id']}/models/{MODEL}/predictions", record[0]


def _call(url: str, token: str, record: dict) -> float:
    import requests

    body = {"records": [dict(copy.deepcopy(record), user_id="p-1")]}
    started = time.perf_counter()
    answer = requests.post(url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    elapsed = time.perf_counter() - started
    if answer.status_code != 200:
        raise SystemExit(f"the device route answered {answer.status_code}: {answer.text[:300]}")
    return elapsed


def _first_report(project: Path) -> dict:
    """The authorizer's first invocation, from its log's REPORT line: init and duration (ms)."""
    import re

    import boto3

    info = json.loads((project / ".vwt" / "emulator" / "server.json").read_text())
    logs = boto3.client("logs", endpoint_url=f"http://127.0.0.1:{info['port']}", region_name="eu-west-1",
                        aws_access_key_id="test", aws_secret_access_key="test")  # fmt: skip
    events = logs.filter_log_events(logGroupName="/aws/lambda/vwt-local-device-token")["events"]
    report = next(
        e["message"] for e in sorted(events, key=lambda e: e["timestamp"]) if e["message"].startswith("REPORT")
    )
    init = re.search(r"Init Duration: ([0-9.]+) ms", report)
    duration = re.search(r"\tDuration: ([0-9.]+) ms", report)
    return {"authorizer_init_ms": float(init.group(1)) if init else None,
            "authorizer_first_duration_ms": float(duration.group(1)) if duration else None}  # fmt: skip


def main(argv: list[str] | None = None) -> dict:
    sys.path.insert(0, str(ROOT))
    from tests.helpers.identity import IdentityProvider
    from vwt_deploy.emulator.manager import Emulator

    provider = IdentityProvider()
    figures: dict = {}
    try:
        for cache_seconds in (0, 300):
            project, url, record = _deployment(cache_seconds, provider)
            try:
                first = _call(url, provider.token("p-1"), record)
                token = provider.token("p-1")
                warm = sorted(_call(url, token, record) for _ in range(CALLS))
                p50 = statistics.median(warm)
                figures[f"cache_{cache_seconds}s_warm_p50_ms"] = round(p50 * 1000, 1)
                figures[f"cache_{cache_seconds}s_warm_p95_ms"] = round(warm[int(0.95 * len(warm)) - 1] * 1000, 1)
                if cache_seconds == 0:
                    figures["first_call_minus_warm_ms"] = round((first - p50) * 1000, 1)
                    figures.update(_first_report(project))
                    package = project / ".vwt" / "envs" / "local" / "build" / "authorizer.zip"
                    figures["package_mb"] = round(package.stat().st_size / 1e6, 2)
            finally:
                Emulator(project / ".vwt" / "emulator").stop()
                shutil.rmtree(project, ignore_errors=True)
    finally:
        provider.stop()
    rows = [
        ("authorizer package (MB, zipped)", figures["package_mb"]),
        ("authorizer cold start: init, importing PyJWT+cryptography (ms)", figures["authorizer_init_ms"]),
        ("authorizer cold start: first call, JWKS fetch and check (ms)", figures["authorizer_first_duration_ms"]),
        ("first device call minus warm p50, both functions cold (ms)", figures["first_call_minus_warm_ms"]),
        ("warm p50, cache off (ms)", figures["cache_0s_warm_p50_ms"]),
        ("warm p95, cache off (ms)", figures["cache_0s_warm_p95_ms"]),
        ("warm p50, cache 300 s (ms)", figures["cache_300s_warm_p50_ms"]),
        ("warm p95, cache 300 s (ms)", figures["cache_300s_warm_p95_ms"]),
    ]
    for name, value in rows:
        print(f"{name:<62} {value:>8}")
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
