"""`serve` over real HTTP on a free port: good and bad requests, keep-alive, readiness, SIGTERM, arbitrary bodies."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers.container import FEATURES, MlRoot

CALM = {
    "deposits_per_week": 0.5,
    "session_minutes": 10,
    "cancelled_withdrawals": 0,
    "product": "lottery",
    "night_player": False,
    "bonus": 0,
}
RISKY = {
    "deposits_per_week": 20,
    "session_minutes": 280,
    "cancelled_withdrawals": 5,
    "product": "casino",
    "night_player": True,
    "bonus": 3,
}


def csv_line(record: dict) -> str:
    return ",".join(str(record[f]).lower() if isinstance(record[f], bool) else str(record[f]) for f in FEATURES)


@pytest.fixture(scope="module")
def server(trained_classifier: MlRoot, tmp_path_factory):
    from tests.helpers.container import Served

    served = Served(trained_classifier.model, {"VWT_MAX_ROWS": "500", "VWT_MAX_BODY_BYTES": str(256 * 1024)})
    try:
        served.wait_ready()
        yield served
    finally:
        served.stop()


def test_ping_names_the_model_version(server, trained_classifier):
    status, body = server.request("GET", "/ping")
    meta = json.loads((trained_classifier.model / "model.json").read_text())
    assert status == 200 and body == {"status": "ok", "model_version": meta["version"]}


def test_csv_and_json_give_the_same_predictions_in_order(server):
    status, by_csv = server.request("POST", "/invocations", f"{csv_line(CALM)}\n{csv_line(RISKY)}\n", "text/csv")
    assert status == 200, by_csv
    status, by_json = server.request("POST", "/invocations", json.dumps([CALM, RISKY]), "application/json")
    assert status == 200, by_json
    assert by_csv["predictions"] == by_json["predictions"]
    low, high = by_csv["predictions"]
    assert 0 <= low < high <= 1
    assert by_csv["model_version"] == by_json["model_version"]


def test_json_one_record_records_key_and_optional_fields(server):
    without_optional = {k: v for k, v in RISKY.items() if k != "bonus"}
    status, one = server.request(
        "POST", "/invocations", json.dumps(without_optional), "application/json; charset=utf-8"
    )
    assert status == 200 and len(one["predictions"]) == 1
    status, wrapped = server.request("POST", "/invocations", json.dumps({"records": [RISKY, CALM]}), "application/json")
    assert status == 200 and len(wrapped["predictions"]) == 2


def test_a_batch_keeps_the_row_order(server):
    rows = [CALM, RISKY] * 100
    status, body = server.request("POST", "/invocations", "\n".join(csv_line(r) for r in rows), "text/csv")
    assert status == 200
    preds = body["predictions"]
    assert len(preds) == 200 and preds[0::2] == [preds[0]] * 100 and preds[1::2] == [preds[1]] * 100


def test_keep_alive_serves_many_requests_on_one_connection(server):
    conn = server.connection()
    try:
        for _ in range(5):
            status, _ = server.request("POST", "/invocations", csv_line(CALM), "text/csv", conn=conn)
            assert status == 200
        first_socket = conn.sock
        server.request("GET", "/ping", conn=conn)
        assert conn.sock is first_socket  # not reconnected
    finally:
        conn.close()


def exchange(server, body: str | bytes, content_type: str | None, accept: str | None = None):
    """POST /invocations with these headers: (status, Content-Type, the raw body)."""
    headers = {k: v for k, v in (("Content-Type", content_type), ("Accept", accept)) if v}
    conn = server.connection()
    try:
        conn.request("POST", "/invocations", body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.getheader("Content-Type"), resp.read()
    finally:
        conn.close()


def test_accept_text_csv_answers_one_repr_exact_prediction_a_line_in_order(server):
    rows = [CALM, RISKY, CALM, {**RISKY, "bonus": 0.25}]
    body = "".join(csv_line(r) + "\n" for r in rows)
    status, content_type, answer = exchange(server, body, "text/csv", "text/csv")
    assert status == 200 and content_type == "text/csv"
    _, as_json = server.request("POST", "/invocations", body, "text/csv")
    assert answer.decode() == "".join(f"{score!r}\n" for score in as_json["predictions"])  # same digits, newline-ended
    assert [float(line) for line in answer.decode().splitlines()] == as_json["predictions"]
    status, content_type, one = exchange(server, json.dumps(RISKY), "application/json", "text/csv; charset=utf-8")
    assert (status, content_type) == (200, "text/csv") and one == f"{as_json['predictions'][1]!r}\n".encode()


@pytest.mark.parametrize("accept", [None, "application/json", "*/*", "application/json, text/csv;q=0.5", "text/plain"])
def test_the_json_answer_is_byte_for_byte_as_before_unless_csv_is_preferred(server, accept):
    body = f"{csv_line(CALM)}\n{csv_line(RISKY)}\n"
    status, content_type, answer = exchange(server, body, "text/csv", accept)
    assert status == 200 and content_type == "application/json"
    doc = json.loads(answer)
    assert (
        answer
        == json.dumps(
            {"predictions": doc["predictions"], "model_version": doc["model_version"]}, separators=(",", ":")
        ).encode()
    )


def test_a_bad_request_answered_in_csv_still_gets_its_json_error(server):
    status, content_type, answer = exchange(server, csv_line({**CALM, "product": "bingo"}), "text/csv", "text/csv")
    assert (status, content_type) == (400, "application/json")
    assert "product must be one of" in json.loads(answer)["error"]


@pytest.mark.parametrize(
    ("accept", "csv"),
    [
        ("text/csv", True),
        ("TEXT/CSV; charset=utf-8", True),
        ("text/csv, application/json", True),
        ("application/json, text/csv", False),
        ("application/json;q=0.4, text/csv", True),
        ("text/csv;q=0, application/json", False),
        ("text/*", False),  # no "csv" in it: JSON, as before
        ("*/*", False),
        (None, False),
        ("", False),
    ],
)
def test_which_accept_gets_csv(accept, csv):
    from vwt_model.serve import wants_csv

    assert wants_csv(accept) is csv


def test_in_a_batch_transform_the_payload_not_the_row_count_bounds_a_request(serve_model, trained_classifier):
    """SageMaker sets SAGEMAKER_BATCH and SAGEMAKER_MAX_PAYLOAD_IN_MB in a transform job's container: a MultiRecord
    mini-batch of up to that many MiB, whatever its rows, is one request."""
    served = serve_model(trained_classifier.model, {"SAGEMAKER_BATCH": "true", "SAGEMAKER_MAX_PAYLOAD_IN_MB": "1"})
    rows = "".join(csv_line(CALM if i % 3 else RISKY) + "\n" for i in range(12000))  # more than VWT_MAX_ROWS' 10,000
    status, content_type, answer = exchange(served, rows, "text/csv", "text/csv")
    assert (status, content_type) == (200, "text/csv") and len(answer.splitlines()) == 12000
    conn = served.connection()  # a body over the payload: refused on its Content-Length, before it is read
    try:
        conn.putrequest("POST", "/invocations")
        conn.putheader("Content-Type", "text/csv")
        conn.putheader("Content-Length", str(1024 * 1024 + 1))
        conn.endheaders()
        resp = conn.getresponse()
        assert resp.status == 413 and f"at most {1024 * 1024}" in json.loads(resp.read())["error"]
    finally:
        conn.close()


BAD = [
    ("unsupported content type", "x", "text/plain", 415, "unsupported content type 'text/plain'"),
    ("no content type", "1,2", None, 415, "send text/csv or application/json"),
    ("too few columns", "1,2,3", "text/csv", 400, "row 1 has 3 columns; the model takes 6"),
    ("header row", ",".join(FEATURES), "text/csv", 400, "header"),
    (
        "non-numeric",
        csv_line({**CALM, "session_minutes": "long"}),
        "text/csv",
        400,
        "row 1: session_minutes must be a number, got 'long'",
    ),
    (
        "category not allowed",
        csv_line({**CALM, "product": "bingo"}),
        "text/csv",
        400,
        "product must be one of casino, sports, poker, lottery, got 'bingo'",
    ),
    ("bad boolean", csv_line({**CALM, "night_player": "maybe"}), "text/csv", 400, "night_player must be a boolean"),
    (
        "nan",
        csv_line({**CALM, "deposits_per_week": "nan"}),
        "text/csv",
        400,
        "deposits_per_week must be a finite number",
    ),
    ("missing required", csv_line({**CALM, "deposits_per_week": ""}), "text/csv", 400, "deposits_per_week is required"),
    ("empty csv", "", "text/csv", 400, "empty body"),
    ("malformed json", "{'a': 1", "application/json", 400, "not valid JSON"),
    ("unknown field", json.dumps({**CALM, "age": 3}), "application/json", 400, "unknown field(s) 'age'"),
    (
        "missing field",
        json.dumps({k: v for k, v in CALM.items() if k != "product"}),
        "application/json",
        400,
        "product is required but missing",
    ),
    (
        "wrong json type",
        json.dumps({**CALM, "session_minutes": True}),
        "application/json",
        400,
        "session_minutes must be a number",
    ),
    ("empty list", "[]", "application/json", 400, "no records"),
    ("scalar json", "3", "application/json", 400, "send a JSON record"),
    ("too many rows", "\n".join([csv_line(CALM)] * 501), "text/csv", 413, "more than the 500"),
    ("too large", "1" * (256 * 1024 + 1), "text/csv", 413, "at most 262144"),
    ("huge number", json.dumps({**CALM, "bonus": 1e300}), "application/json", 400, "too large for a 32-bit float"),
]


@pytest.mark.parametrize("name,body,content_type,status,message", BAD, ids=[b[0] for b in BAD])
def test_bad_requests_get_a_4xx_naming_the_problem(server, name, body, content_type, status, message):
    got, payload = server.request("POST", "/invocations", body, content_type)
    assert got == status, payload
    assert message in payload["error"]
    assert server.request("GET", "/ping")[0] == 200


def test_unknown_routes_and_methods(server):
    assert server.request("GET", "/nope")[0] == 404
    assert server.request("POST", "/predict", "1", "text/csv")[0] == 404
    assert server.request("PUT", "/invocations", "1", "text/csv")[0] == 405
    assert server.request("DELETE", "/ping")[0] == 405


def test_a_garbage_request_line_gets_a_4xx(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"\x16\x03\x01 garbage\r\n\r\n")
        reply = sock.recv(200)
    assert reply.startswith(b"HTTP/1.1 400")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"BREW /invocations HTTP/1.1\r\nHost: x\r\n\r\n")
        reply = sock.recv(200)
    assert reply.startswith(b"HTTP/1.1 405")


CONTENT_TYPES = st.sampled_from(["text/csv", "application/json", "text/csv; charset=utf-8", "application/x-npy", ""])
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.sampled_from([*FEATURES, "x"]), inner, max_size=7),
    max_leaves=20,
)
BODIES = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=200).map(str.encode),
    st.lists(
        st.lists(
            st.sampled_from(["1", "0", "-2.5", "casino", "true", "", "nan", "1e40", '"x', "bingo"]),
            min_size=5,
            max_size=7,
        ),
        min_size=1,
        max_size=4,
    ).map(lambda rows: "\n".join(",".join(r) for r in rows).encode()),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    # batches long enough for the pyarrow path, with a few odd cells
    st.lists(
        st.lists(
            st.sampled_from(["1", "0", "2.5", "casino", "poker", "true", "false", "", "nan", "x", '"1"']),
            min_size=6,
            max_size=6,
        ),
        min_size=32,
        max_size=40,
    ).map(lambda rows: "\n".join(",".join(r) for r in rows).encode()),
)


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(body=BODIES, content_type=CONTENT_TYPES)
def test_no_body_gets_a_5xx_or_kills_the_server(server, body, content_type):
    status, payload = server.request("POST", "/invocations", body, content_type or None)
    assert status < 500, payload
    if status != 200:
        assert isinstance(payload, dict) and payload["error"]
    assert server.proc.poll() is None


def test_the_server_survived_the_property_test(server):
    assert server.request("GET", "/ping")[0] == 200
    assert "Traceback" not in server.output()


def test_sigterm_with_an_idle_keep_alive_connection_stops_cleanly(serve_model, trained_classifier):
    served = serve_model(trained_classifier.model)
    conn = served.connection()
    assert served.request("POST", "/invocations", csv_line(CALM), "text/csv", conn=conn)[0] == 200
    served.proc.send_signal(signal.SIGTERM)
    assert served.proc.wait(30) == 0  # SageMaker's grace period: the idle connection must not hold it up
    assert "SIGTERM: draining" in served.output() and "stopped" in served.output()
    conn.close()


def test_a_missing_model_makes_serve_exit_with_the_reason(serve_model, tmp_path):
    served = serve_model(tmp_path / "empty", ready=False)
    assert served.proc.wait(30) == 1
    assert "no model to serve" in served.output()


class SlowPredictor:
    """Stands in for a model: takes a while, so a request is in flight when the server is asked to stop."""

    version = "slow"

    def __init__(self):
        self.entered = threading.Event()

    def handle(self, body, content_type, max_rows):
        self.entered.set()
        time.sleep(0.5)
        return [0.25]


def test_ping_is_503_until_loaded_and_draining_finishes_requests_in_flight():
    from vwt_model.serve import ModelServer

    server = ModelServer(("127.0.0.1", 0))
    port = server.server_address[1]
    loop = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    loop.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/ping")
        resp = conn.getresponse()
        assert resp.status == 503 and b"loading" in resp.read()
        conn.request("POST", "/invocations", body="1", headers={"Content-Type": "text/csv"})
        resp = conn.getresponse()
        assert resp.status == 503
        resp.read()
        conn.close()

        predictor = SlowPredictor()
        server.predictor = predictor
        result = {}

        def client():
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request("POST", "/invocations", body="1", headers={"Content-Type": "text/csv"})
            r = c.getresponse()
            result["status"], result["body"] = r.status, json.loads(r.read())
            c.close()

        caller = threading.Thread(target=client)
        caller.start()
        assert predictor.entered.wait(10)
        server.shutdown()  # what SIGTERM does: stop accepting ...
        server.drain(time.monotonic() + 25)  # ... and let the request in flight finish
        caller.join(10)
        assert result == {"status": 200, "body": {"predictions": [0.25], "model_version": "slow"}}
    finally:
        server.shutdown()
        server.server_close()
        loop.join(10)
