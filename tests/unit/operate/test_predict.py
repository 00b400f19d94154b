"""`vwt-deploy predict`: the client against a local HTTP server that runs the real handler; input files; the CLI."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner
from predict.catalogue import Catalogue
from predict.handler import PredictionService

from tests.helpers import REPO
from tests.helpers.lambdas import FakeEndpoint, FakeSns
from vwt_deploy.build.catalogue import catalogue_document
from vwt_deploy.config import load
from vwt_deploy.errors import ConfigError, VwtError
from vwt_deploy.operate.predict import PredictionClient, api_key_value, format_table, read_records

API_KEY = "secret-key-123"


class FakeApi:
    """API Gateway in front of the real handler: the API key check, then the proxy event."""

    def __init__(self, service):
        self.service = service
        self.requests = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                api.requests.append((self.path, json.loads(body)))
                if self.headers.get("x-api-key") != API_KEY:
                    return self._send(403, {}, json.dumps({"message": "Forbidden"}))
                parts = self.path.strip("/").split("/")
                event = {
                    "httpMethod": "POST",
                    "path": self.path,
                    "headers": dict(self.headers.items()),
                    "pathParameters": {"model": parts[2]} if len(parts) == 4 else None,
                    "body": body,
                    "requestContext": {"requestId": "gw-1", "identity": {"apiKeyId": "key-id"}},
                }
                resp = api.service.handle(event)
                self._send(resp["statusCode"], resp["headers"], resp["body"])

            def _send(self, status, headers, body):
                data = body.encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)  # a free port
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/stage"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture(scope="module")
def catalogue():
    """The catalogue the local package bundles."""
    return Catalogue(catalogue_document(load("local", REPO)), "the local catalogue")


@pytest.fixture
def api(catalogue):
    sns = FakeSns()
    svc = PredictionService(
        catalogue,
        {"INTERVENTION_TOPIC_ARN": "arn:i", "OPERATOR_TOPIC_ARN": "arn:o", "OPERATOR_KEYS": '{"key-id": "northbet"}'},
        sagemaker=FakeEndpoint(scores=lambda rs: [0.1 * (i % 10) for i in range(len(rs))]),
        sns=sns,
        log=lambda _: None,
    )
    with FakeApi(svc) as server:
        server.sns = sns
        yield server


def _types(catalogue, model):
    return {f.name: f.type for f in catalogue.models[model].features}


BID_CSV = """user_id,age,country,device,registration_hour,marketing_opt_in,id_verified,declared_deposit_limit
p1,30,nl,web,12,true,false,
p2,45,de,ios,3,0,1,250.5
"""


def test_csv_records_are_typed_and_predicted(api, catalogue, tmp_path):
    path = tmp_path / "in.csv"
    path.write_text(BID_CSV)
    records = read_records(path, _types(catalogue, "bid-problem-gambling"))
    assert records[0] == {
        "user_id": "p1",
        "age": 30,
        "country": "nl",
        "device": "web",
        "registration_hour": 12,
        "marketing_opt_in": True,
        "id_verified": False,
    }  # empty cell: left to the default
    assert records[1]["declared_deposit_limit"] == 250.5 and records[1]["id_verified"] is True
    result = PredictionClient(api.url, API_KEY).predict("bid-problem-gambling", records)
    assert [p["user_id"] for p in result["predictions"]] == ["p1", "p2"]
    assert result["predictions"][0]["risk_group"] and result["model_version"] == "v7"
    assert api.requests[0][0] == "/stage/v1/models/bid-problem-gambling/predictions"
    lines = format_table(result)
    assert "risk_group" in lines[1] and lines[2].startswith("p1")


def test_json_records_in_chunks(api, tmp_path):
    path = tmp_path / "in.json"
    record = {
        "user_id": "u",
        "deposits_per_week": 1,
        "avg_deposit": 2,
        "stake_per_day": 3,
        "session_minutes": 4,
        "night_play_share": 0.5,
        "loss_chasing_ratio": 0.1,
        "cancelled_withdrawals": 0,
        "deposit_limit_changes": 0,
        "days_active": 10,
        "product": "casino",
    }
    path.write_text(json.dumps({"records": [dict(record, user_id=f"u{i}") for i in range(5)]}))
    records = read_records(path, {})
    result = PredictionClient(api.url, API_KEY).predict("gb-marketing", records, chunk_size=2)
    assert len(api.requests) == 3 and [len(body["records"]) for _, body in api.requests] == [2, 2, 1]
    assert [p["user_id"] for p in result["predictions"]] == [f"u{i}" for i in range(5)]
    assert len(result["request_ids"]) == 3 and "risk_group" not in result["predictions"][0]


def test_refused_records_list_the_problems(api, catalogue, tmp_path):
    path = tmp_path / "in.csv"
    path.write_text(BID_CSV.replace("p2,45", "p2,12").replace("nl,web", "xx,web"))
    records = read_records(path, _types(catalogue, "bid-problem-gambling"))
    with pytest.raises(ConfigError) as err:
        PredictionClient(api.url, API_KEY).predict("bid-problem-gambling", records)
    text = str(err.value)
    assert "record 0, country" in text and "record 1, age: must be at least 18" in text


def test_wrong_key_unknown_model_and_unavailable_endpoint(api, catalogue):
    with pytest.raises(VwtError, match="refused the API key"):
        PredictionClient(api.url, "wrong").predict("gb-marketing", [{"user_id": "x"}])
    with pytest.raises(ConfigError, match="no model 'nope'"):
        PredictionClient(api.url, API_KEY).predict("nope", [{"user_id": "x"}])

    class Throttled:
        def invoke_endpoint(self, **_):
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow"}}, "InvokeEndpoint")

    api.service._sagemaker = Throttled()
    record = {
        "user_id": "u",
        "age": 30,
        "country": "nl",
        "device": "web",
        "registration_hour": 1,
        "marketing_opt_in": True,
        "id_verified": True,
    }
    with pytest.raises(VwtError, match="HTTP 503") as err:
        PredictionClient(api.url, API_KEY).predict("bid-problem-gambling", [record])
    assert "wait 2 s" in str(err.value)


def test_an_unreachable_api_is_one_clear_error():
    with pytest.raises(VwtError, match="cannot reach"):
        PredictionClient("http://127.0.0.1:9", API_KEY, timeout=2).predict("m", [{"user_id": "x"}])


@pytest.mark.parametrize(
    "text, suffix, fragment",
    [
        ("user_id,age\np1,abc\n", ".csv", "line 2, column age: 'abc' is not a number"),
        ("user_id,age\np1,30.5\n", ".csv", "not a whole number"),
        ("user_id,marketing_opt_in\np1,maybe\n", ".csv", "not true/false"),
        ("user_id,age\np1,30,extra\n", ".csv", "more cells than header"),
        ("user_id,age\np1,nan\n", ".csv", "not a finite number"),
        ("", ".csv", "no header"),
        ("user_id,age\n", ".csv", "no records"),
        ("{bad json", ".json", "not valid JSON"),
        ('{"rows": []}', ".json", "a JSON list of records"),
        ("[1, 2]", ".json", "a JSON list of records"),
    ],
)
def test_bad_input_files(tmp_path, catalogue, text, suffix, fragment):
    path = tmp_path / f"in{suffix}"
    path.write_text(text)
    with pytest.raises(ConfigError, match=fragment.replace("(", r"\(")):
        read_records(path, _types(catalogue, "bid-problem-gambling"))


def test_api_key_value_reads_the_key_with_its_value(moto):
    import boto3

    client = boto3.client("apigateway", region_name="eu-west-1")
    key = client.create_api_key(name="k", enabled=True, value="v" * 30)
    assert api_key_value({"northbet": key["id"]}, "northbet", "eu-west-1") == "v" * 30
    with pytest.raises(VwtError, match="cannot read the API key"):
        api_key_value({"northbet": "missing"}, "northbet", "eu-west-1")
    with pytest.raises(VwtError, match="no API key of operator 'lucky-lane'") as raised:
        api_key_value({"northbet": key["id"]}, "lucky-lane", "eu-west-1")
    assert "operators with a key: northbet" in raised.value.hint
    with pytest.raises(VwtError, match="no API keys"):
        api_key_value({}, "northbet", "eu-west-1")


def test_the_cli_command(api, monkeypatch, tmp_path):
    from vwt_deploy import cli
    from vwt_deploy.deploy import pipeline as deploy
    from vwt_deploy.operate import predict as predict_mod

    class Target:
        def ensure_ready(self):
            pass

        def terraform_env(self):
            return {}

        def client(self, service):
            return f"{service} client"

        def api_url(self, outputs):
            return outputs["api_url"]

        def available(self):
            return True

        def state_lost(self):
            return False

    monkeypatch.setattr(deploy.Deployment, "target", property(lambda self: Target()))
    monkeypatch.setattr(
        deploy.Deployment,
        "outputs",
        lambda self: {"api_url": api.url, "api_key_ids": {"northbet": "key-id", "lucky-lane": "key-id-2"}},
    )
    asked = []
    monkeypatch.setattr(
        predict_mod,
        "api_key_value",
        lambda key_ids, operator, region, client=None: asked.append((key_ids[operator], region, client)) or API_KEY,
    )
    path = tmp_path / "in.csv"
    path.write_text(BID_CSV)
    runner = CliRunner()
    base = [
        "--project-dir",
        str(REPO),
        "predict",
        "--env",
        "dev",
        "--model",
        "bid-problem-gambling",
        "--input",
        str(path),
    ]
    out = runner.invoke(cli.main, base)
    assert out.exit_code == 0, out.output
    assert "p1" in out.output and "risk_group" in out.output and asked == [("key-id", "eu-west-1", "apigateway client")]
    out = runner.invoke(cli.main, base + ["--json"])
    assert out.exit_code == 0 and len(json.loads(out.output)["predictions"]) == 2
    out = runner.invoke(cli.main, base[:-4] + ["--model", "nope", "--input", str(path)])
    assert out.exit_code == 2 and "unknown model 'nope'" in out.output
    path.write_text("user_id,age\np1,old\n")
    out = runner.invoke(cli.main, base)
    assert out.exit_code == 2 and "is not a number" in out.output and "Traceback" not in out.output
    path.write_text(BID_CSV)
    out = runner.invoke(cli.main, base + ["--operator", "lucky-lane"])
    assert out.exit_code == 0 and asked[-1][0] == "key-id-2"
    out = runner.invoke(cli.main, base + ["--operator", "nobody"])
    assert out.exit_code == 2 and "unknown operator 'nobody'" in out.output and "northbet, lucky-lane" in out.output
