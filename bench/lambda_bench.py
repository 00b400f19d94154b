"""Benchmark of the prediction Lambda: package size, cold import time, handler time (endpoint stubbed).

    .venv/bin/python bench/lambda_bench.py [--env local] [--out results.json]

Goals (issue 7): package < 100 KB; cold import of the handler module < 30 ms;
handler time for 100 records, excluding the endpoint call, < 2 ms.

`run()` returns the figures as a dict (bench/run.py merges it); `main()` prints
a table and writes JSON when asked.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

GOALS = {"package_kb": 100.0, "cold_import_ms": 30.0, "handler_100_records_ms": 2.0}

_IMPORT = r"""
import sys, time
sys.path.insert(0, sys.argv[1])
t = time.perf_counter()
import predict.handler
print(time.perf_counter() - t)
"""

_FIRST_REQUEST = r"""
import sys, time, json
sys.path.insert(0, sys.argv[1])
t0 = time.perf_counter()
import predict.handler as h
t1 = time.perf_counter()
svc = h.service()                       # reads the bundled catalogue.json
t2 = time.perf_counter()
svc.sagemaker; svc.sns                  # imports boto3, makes the two clients
t3 = time.perf_counter()
print(json.dumps([t1 - t0, t2 - t1, t3 - t2]))
"""


class _Endpoint:
    """Stands in for InvokeEndpoint: a constant answer, no work."""

    def __init__(self, n: int):
        self.data = json.dumps({"predictions": [0.42] * n, "model_version": "bench"}).encode()

    def invoke_endpoint(self, **_):
        return {"Body": io.BytesIO(self.data)}


class _Sns:
    def publish_batch(self, **_):
        return {"Successful": [], "Failed": []}


def _fresh(script: str, root: Path, *, isolated: bool, no_bytecode: bool = False) -> str:
    flags = (["-I", "-S"] if isolated else ["-I"]) + (["-B"] if no_bytecode else [])
    env = {
        **os.environ,
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
    }
    out = subprocess.run(
        [sys.executable, *flags, "-c", script, str(root)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env=env,
    )
    return out.stdout.strip()


def run(env_name: str = "local", repeats: int = 15, iterations: int = 300) -> dict:
    from vwt_deploy.build import catalogue, openapi, package
    from vwt_deploy.config import load

    env = load(env_name, REPO)
    data = package.build_zip(REPO / "lambdas", catalogue.catalogue_bytes(env))
    results: dict = {"environment": env_name, "package_bytes": len(data), "package_kb": round(len(data) / 1024, 1)}

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "task"
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            zf.extractall(root)
        # cold import of the handler module: a fresh interpreter each time, the standard library only on the path
        # and byte code cached (the first run writes it)
        _fresh(_IMPORT, root, isolated=True)
        imports = [float(_fresh(_IMPORT, root, isolated=True)) * 1000 for _ in range(repeats)]
        results["cold_import_ms"] = round(statistics.median(imports), 2)
        results["cold_import_ms_min"] = round(min(imports), 2)
        # as in Lambda: /var/task is read-only and the zip holds no byte code, so every cold start compiles
        # the package's modules from source (-B, and a copy with no __pycache__)
        source_root = Path(tmp) / "source"
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            zf.extractall(source_root)
        compiled = [float(_fresh(_IMPORT, source_root, isolated=True, no_bytecode=True)) * 1000 for _ in range(repeats)]
        results["cold_import_from_source_ms"] = round(statistics.median(compiled), 2)
        # what the first request adds once per container: catalogue + boto3 and its clients
        firsts = [json.loads(_fresh(_FIRST_REQUEST, root, isolated=False)) for _ in range(3)]
        results["first_request_catalogue_ms"] = round(statistics.median(f[1] for f in firsts) * 1000, 2)
        results["first_request_boto3_clients_ms"] = round(statistics.median(f[2] for f in firsts) * 1000, 1)

    # the handler, 100 records, endpoint and SNS stubbed (in-process, warm)
    sys.path.insert(0, str(REPO / "lambdas"))
    from predict.catalogue import Catalogue
    from predict.handler import PredictionService

    doc = catalogue.catalogue_document(env)
    model = next(m for m in doc["models"] if m["consumer"] == "intervention")
    record = openapi.example_record(model, full=True)
    body = json.dumps({"records": [dict(record, user_id=f"player-{i:05d}") for i in range(100)]})
    event = {
        "httpMethod": "POST",
        "pathParameters": {"model": model["name"]},
        "body": body,
        "requestContext": {"requestId": "bench", "identity": {"apiKeyId": "bench-key"}},
        "headers": {},
    }
    svc = PredictionService(
        Catalogue(doc),
        {"INTERVENTION_TOPIC_ARN": "arn:i", "OPERATOR_TOPIC_ARN": "arn:o", "OPERATOR_KEYS": '{"bench-key": "bench"}'},
        sagemaker=_Endpoint(100),
        sns=_Sns(),
        log=lambda _: None,
    )
    assert svc.handle(event)["statusCode"] == 200
    times = []
    for _ in range(iterations):
        t = time.perf_counter()
        svc.handle(event)
        times.append(time.perf_counter() - t)
    times.sort()
    results["handler_100_records_ms"] = round(statistics.median(times) * 1000, 3)
    results["handler_100_records_p95_ms"] = round(times[int(len(times) * 0.95)] * 1000, 3)
    results["handler_model"] = model["name"]
    results["goals"] = GOALS
    results["met"] = {k: results[k] < v for k, v in GOALS.items()}
    return results


def table(results: dict) -> str:
    rows = [
        ("package size", f"{results['package_kb']} KB", f"< {GOALS['package_kb']:g} KB", results["met"]["package_kb"]),
        (
            "cold import of predict.handler (median, .pyc cached)",
            f"{results['cold_import_ms']} ms",
            f"< {GOALS['cold_import_ms']:g} ms",
            results["met"]["cold_import_ms"],
        ),
        (
            "handler, 100 records, endpoint stubbed (median)",
            f"{results['handler_100_records_ms']} ms",
            f"< {GOALS['handler_100_records_ms']:g} ms",
            results["met"]["handler_100_records_ms"],
        ),
        ("  p95", f"{results['handler_100_records_p95_ms']} ms", "", None),
        (
            "cold import, compiled from source (no .pyc, as in Lambda)",
            f"{results['cold_import_from_source_ms']} ms",
            "",
            None,
        ),
        ("first request: read catalogue.json", f"{results['first_request_catalogue_ms']} ms", "", None),
        ("first request: import boto3, make 2 clients", f"{results['first_request_boto3_clients_ms']} ms", "", None),
    ]
    width = max(len(r[0]) for r in rows)
    lines = [f"{'prediction Lambda':{width}}  {'measured':>12}  {'goal':>10}  met"]
    for name, value, goal, met in rows:
        lines.append(f"{name:{width}}  {value:>12}  {goal:>10}  {'' if met is None else ('yes' if met else 'NO')}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="local")
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = parser.parse_args(argv)
    results = run(args.env)
    print(table(results))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    return results


if __name__ == "__main__":
    main()
