"""Invoking a function through the emulator runs its handler from the deployed zip, as Lambda does."""

from __future__ import annotations

import base64
import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.helpers import alive, gone, wait_for_process
from tests.helpers.emulator import start_emulator, zip_of

HANDLER = """
import json, logging, os, time

logger = logging.getLogger()
logger.setLevel(logging.INFO)
LOADED = time.time()  # once per warm sandbox


def echo(event, context):
    print("echo got", json.dumps(event))
    logger.info("a log record")
    return {"event": event, "greeting": os.environ.get("GREETING"), "function": context.function_name,
            "endpoint": os.environ.get("AWS_ENDPOINT_URL"), "region": os.environ.get("AWS_REGION"),
            "loaded": LOADED, "pid": os.getpid(), "remaining_ms": context.get_remaining_time_in_millis()}


def fail(event, context):
    raise ValueError("no such player: " + str(event.get("player")))


def slow(event, context):
    started = time.time()
    time.sleep(event["seconds"])
    return {"started": started, "ended": time.time(), "pid": os.getpid()}


def buckets(event, context):
    import boto3
    return [b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]]


def libraries(event, context):
    # what the function can import: the standard library and the SDK, nothing else of this machine
    import importlib.util
    return {name: importlib.util.find_spec(name) is not None for name in event["names"]}
"""

SLOW_INIT = """
import time
time.sleep(1.5)  # a heavy import


def handler(event, context):
    return "ready"
"""


@pytest.fixture(scope="module")
def functions(emulator_client, role):
    lam = emulator_client("lambda")
    package = zip_of({"app.py": HANDLER, "slowinit.py": SLOW_INIT})
    for name, handler, timeout in (
        ("echo", "app.echo", 10),
        ("fail", "app.fail", 10),
        ("slow", "app.slow", 2),
        ("buckets", "app.buckets", 20),
        ("libraries", "app.libraries", 10),
        ("slowinit", "slowinit.handler", 1),
    ):
        lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role,
            Handler=handler,
            Code={"ZipFile": package},
            Timeout=timeout,
            Environment={"Variables": {"GREETING": "hello"}},
        )
    return lam


def _invoke(lam, name, event, **kwargs):
    answer = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode(), **kwargs)
    return answer, json.loads(answer["Payload"].read())


def test_handler_result_env_and_context(functions):
    answer, payload = _invoke(functions, "echo", {"player": "p1"})
    assert answer["StatusCode"] == 200 and "FunctionError" not in answer
    assert payload["event"] == {"player": "p1"}
    assert payload["greeting"] == "hello"  # the function's environment variables
    assert payload["function"] == "echo"
    assert payload["endpoint"].startswith("http://127.0.0.1:")  # AWS calls reach the emulator
    assert payload["region"] == "eu-west-1"
    assert 0 < payload["remaining_ms"] <= 10_000


def test_the_function_sees_what_lambdas_runtime_provides_and_its_own_package_only(functions):
    """Lambda's Python runtime brings the standard library and boto3; moto, yaml or cryptography, which this machine
    has, are not there: a package that needs them must carry them (else it fails on AWS, and here too)."""
    names = ["json", "boto3", "botocore", "dateutil", "urllib3", "app", "moto", "yaml", "cryptography", "vwt_deploy",
             "events"]  # fmt: skip
    _, found = _invoke(functions, "libraries", {"names": names})
    assert found == {**{n: True for n in names[:6]}, **{n: False for n in names[6:]}}


def test_warm_worker_keeps_the_module_imported(functions):
    _, first = _invoke(functions, "echo", {})
    _, second = _invoke(functions, "echo", {})
    assert first["loaded"] == second["loaded"] and first["pid"] == second["pid"]


def test_handler_calls_aws_in_the_emulator(functions, emulator_client):
    emulator_client("s3").create_bucket(
        Bucket="seen-from-lambda", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    _, payload = _invoke(functions, "buckets", {})
    assert "seen-from-lambda" in payload


def test_output_goes_to_cloudwatch_logs_and_tail(functions, emulator_client):
    answer, _ = _invoke(functions, "echo", {"marker": "in-the-logs"}, LogType="Tail")
    tail = base64.b64decode(answer["LogResult"]).decode()
    assert 'echo got {"marker": "in-the-logs"}' in tail
    assert "START RequestId:" in tail and "END RequestId:" in tail and "REPORT RequestId:" in tail
    assert "[INFO]" in tail and "a log record" in tail
    used = int(tail.split("Max Memory Used: ")[1].split(" MB")[0])
    assert 0 < used < 128  # the worker's own memory, within the function's 128 MB
    logs = emulator_client("logs")
    streams = logs.describe_log_streams(logGroupName="/aws/lambda/echo")["logStreams"]
    assert streams and all("/[$LATEST]" in s["logStreamName"] for s in streams)
    messages = [
        e["message"]
        for s in streams
        for e in logs.get_log_events(logGroupName="/aws/lambda/echo", logStreamName=s["logStreamName"])["events"]
    ]
    assert any('echo got {"marker": "in-the-logs"}' in m for m in messages)


def test_exception_is_an_unhandled_function_error(functions):
    answer, payload = _invoke(functions, "fail", {"player": "p9"}, LogType="Tail")
    assert answer["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "ValueError"
    assert payload["errorMessage"] == "no such player: p9"
    assert any("in fail" in frame for frame in payload["stackTrace"])
    assert "[ERROR] ValueError: no such player: p9" in base64.b64decode(answer["LogResult"]).decode()


def test_timeout_kills_the_worker_and_the_next_invocation_works(functions):
    answer, payload = _invoke(functions, "slow", {"seconds": 30})
    assert answer["FunctionError"] == "Unhandled"
    assert "Task timed out after 2.00 seconds" in payload["errorMessage"]
    answer, payload = _invoke(functions, "slow", {"seconds": 0})
    assert "FunctionError" not in answer and payload["ended"] >= payload["started"]


def test_the_init_phase_is_not_part_of_the_function_timeout(functions):
    answer, payload = _invoke(functions, "slowinit", {})
    assert "FunctionError" not in answer and payload == "ready"


def test_concurrent_invocations_run_in_parallel(functions):
    with ThreadPoolExecutor(3) as pool:
        # a first round starts the workers: on a loaded machine their start-up alone can outlast a 1 s run
        list(pool.map(lambda _: _invoke(functions, "slow", {"seconds": 1}), range(3)))
        results = list(pool.map(lambda _: _invoke(functions, "slow", {"seconds": 1})[1], range(3)))
    assert len({r["pid"] for r in results}) == 3
    latest_start = max(r["started"] for r in results)
    assert all(r["ended"] > latest_start for r in results)  # every run overlapped every other


def test_new_code_retires_the_old_workers(functions):
    _, before = _invoke(functions, "echo", {})
    functions.update_function_code(
        FunctionName="echo", ZipFile=zip_of({"app.py": "def echo(e, c):\n    return 'v2'\n"})
    )
    _, after = _invoke(functions, "echo", {})
    assert before["greeting"] == "hello" and after == "v2"
    functions.update_function_configuration(FunctionName="echo", Handler="app.missing")
    answer, payload = _invoke(functions, "echo", {})
    assert answer["FunctionError"] == "Unhandled" and payload["errorType"] == "Runtime.HandlerNotFound"


def test_unknown_function_is_not_found(functions):
    with pytest.raises(functions.exceptions.ResourceNotFoundException):
        functions.invoke(FunctionName="nope", Payload=b"{}")


def test_stopping_the_emulator_stops_its_workers(tmp_path):
    """An emulator of its own: the test stops it."""
    import os

    own = start_emulator(tmp_path / "emulator")
    try:
        lam = own.client("lambda")
        role = own.client("iam").create_role(RoleName="lambda-test", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        lam.create_function(
            FunctionName="echo",
            Runtime="python3.12",
            Role=role,
            Handler="app.echo",
            Code={"ZipFile": zip_of({"app.py": HANDLER})},
        )
        pid = _invoke(lam, "echo", {})[1]["pid"]
        os.kill(pid, 0)  # the warm worker lives between invocations
    finally:
        own.stop()
    assert gone(pid), f"worker {pid} outlived the emulator"


def test_deleting_a_function_stops_its_workers(emulator_client, role):
    lam = emulator_client("lambda")
    lam.create_function(
        FunctionName="short-lived",
        Runtime="python3.12",
        Role=role,
        Handler="app.echo",
        Code={"ZipFile": zip_of({"app.py": HANDLER})},
    )
    pid = _invoke(lam, "short-lived", {})[1]["pid"]
    assert alive(pid)  # warm between invocations
    lam.delete_function(FunctionName="short-lived")
    assert gone(pid), f"worker {pid} outlived its function"


def test_a_warm_worker_that_died_while_idle_is_replaced(emulator_client, role):
    import os
    import signal

    lam = emulator_client("lambda")
    lam.create_function(
        FunctionName="phoenix",
        Runtime="python3.12",
        Role=role,
        Handler="app.echo",
        Code={"ZipFile": zip_of({"app.py": HANDLER})},
    )
    answer, payload = _invoke(lam, "phoenix", {})
    assert "FunctionError" not in answer, payload
    pid = payload["pid"]
    os.kill(pid, signal.SIGKILL)  # as the OOM killer would
    assert gone(pid)
    answer, payload = _invoke(lam, "phoenix", {"again": True})
    assert "FunctionError" not in answer, payload
    assert payload["event"] == {"again": True} and payload["pid"] != pid


def test_a_worker_killed_during_an_invocation_fails_that_one_only(emulator, emulator_client, role):
    """As Lambda answers when a sandbox's runtime dies mid-invocation (the OOM killer, a crash): that invocation
    fails with Runtime.ExitError, its log says so, and the next one gets a new worker."""
    import os
    import signal

    lam = emulator_client("lambda")
    lam.create_function(
        FunctionName="killed-midway",
        Runtime="python3.12",
        Role=role,
        Handler="app.slow",
        Timeout=30,
        Code={"ZipFile": zip_of({"app.py": HANDLER})},
    )
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(_invoke, lam, "killed-midway", {"seconds": 20})
        pid = wait_for_process(emulator, "lambda killed-midway")
        assert pid is not None
        time.sleep(1)  # inside the handler's sleep
        os.kill(pid, signal.SIGKILL)
        answer, payload = running.result(timeout=30)
    assert answer["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Runtime.ExitError"
    assert payload["errorMessage"].endswith("Error: Runtime exited with error: signal: killed"), payload
    answer, payload = _invoke(lam, "killed-midway", {"seconds": 0})
    assert "FunctionError" not in answer and payload["pid"] != pid
