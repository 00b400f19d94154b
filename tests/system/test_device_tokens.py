"""Calls straight from players' devices, on a real local deployment with IAM enforced: the device route behind the
token authorizer (its own package, PyJWT vendored), a test identity provider per operator (keys the tests made,
JWKS on a free local port), and every bad input the issue names."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from tests.helpers import copy_project
from tests.helpers.deployflow import cli_of
from tests.helpers.identity import IdentityProvider
from vwt_deploy.build import openapi
from vwt_deploy.config import load
from vwt_deploy.emulator.manager import Emulator

pytestmark = pytest.mark.system

MODEL = "gb-problem-gambling"


@pytest.fixture(scope="module")
def deployed(tmp_path_factory) -> Iterator[dict]:
    """A local deployment taking device tokens: northbet's provider answers, lucky-lane's cannot be reached."""
    northbet, unreachable = IdentityProvider(), IdentityProvider()
    unreachable.stop()
    project = copy_project(tmp_path_factory.mktemp("device-tokens"))
    catalogue = project / "environments" / "models.yaml"
    data = yaml.safe_load(catalogue.read_text())
    for operator in data["operators"]:
        provider = northbet if operator["id"] == "northbet" else unreachable
        operator["identity"] = provider.identity()
    catalogue.write_text(yaml.safe_dump(data, sort_keys=False))
    local = project / "environments" / "local.yaml"
    config = yaml.safe_load(local.read_text())
    config.setdefault("api", {})["device_tokens"] = {"enabled": True}
    local.write_text(yaml.safe_dump(config, sort_keys=False))
    cli = cli_of(project)
    try:
        cli("up", "--env", "local", "--yes")
        base = json.loads(cli("status", "--env", "local", "--json"))["local_api_url"]
        example = openapi.document(load("local", project))["paths"][openapi.path_of(MODEL)]["post"]
        record = example["requestBody"]["content"]["application/json"]["examples"]["required-only"]["value"]["records"][
            0
        ]
        yield {"base": base, "northbet": northbet, "record": record, "project": project}
    finally:
        Emulator(project / ".vwt" / "emulator").stop()
        northbet.stop()


def _ask(deployed: dict, token: str | None, operator: str = "northbet", players: tuple[str, ...] = ("p-1",)):
    records = [dict(copy.deepcopy(deployed["record"]), user_id=p) for p in players]
    headers = {"Authorization": token} if token is not None else {}
    url = f"{deployed['base']}/v1/operators/{operator}/models/{MODEL}/predictions"
    return requests.post(url, json={"records": records}, headers=headers, timeout=30)


def _authorizer_log(deployed: dict) -> str:
    """The authorizer function's log (for a failure's message)."""
    import boto3

    info = json.loads((Path(deployed["project"]) / ".vwt" / "emulator" / "server.json").read_text())
    logs = boto3.client("logs", endpoint_url=f"http://127.0.0.1:{info['port']}", region_name="eu-west-1",
                        aws_access_key_id="test", aws_secret_access_key="test")  # fmt: skip
    events = logs.filter_log_events(logGroupName="/aws/lambda/vwt-local-device-token")["events"]
    return "\n".join(e["message"] for e in events)[-3000:]


def test_a_players_token_gets_their_prediction_for_their_operator(deployed):
    answer = _ask(deployed, "Bearer " + deployed["northbet"].token("p-1"))
    assert answer.status_code == 200, answer.text + "\n" + _authorizer_log(deployed)
    body = answer.json()
    assert body["operator_id"] == "northbet"
    assert [p["user_id"] for p in body["predictions"]] == ["p-1"]


@pytest.mark.parametrize(
    "make",
    [
        lambda idp: None,  # no header
        lambda idp: "Bearer not-a-jwt",  # malformed
        lambda idp: "Basic dXNlcjpwYXNz",  # another scheme
        lambda idp: "Bearer " + idp.token(expires_in=-120),  # expired, beyond the leeway
        lambda idp: "Bearer " + idp.token(not_before=600),  # not yet valid
        lambda idp: "Bearer " + idp.token(stranger=True),  # signed with a key the provider does not publish
        lambda idp: "Bearer " + idp.token(audience="another-api"),
        lambda idp: "Bearer " + idp.unsigned(),  # alg: none
    ],
    ids=["missing", "malformed", "other-scheme", "expired", "not-yet-valid", "wrong-key", "wrong-audience", "alg-none"],
)
def test_a_token_that_does_not_check_out_is_401(deployed, make):
    answer = _ask(deployed, make(deployed["northbet"]))
    assert answer.status_code == 401, answer.text


def test_a_token_of_one_operator_cannot_ask_for_another(deployed):
    answer = _ask(deployed, "Bearer " + deployed["northbet"].token("p-1"), operator="lucky-lane")
    assert answer.status_code == 403, answer.text


def test_a_device_may_ask_only_about_its_own_player_and_nothing_is_scored(deployed):
    answer = _ask(deployed, "Bearer " + deployed["northbet"].token("p-1"), players=("p-1", "p-2"))
    assert answer.status_code == 403
    assert answer.json()["error"] == "not_your_player"


def test_an_identity_provider_that_cannot_be_reached_is_503(deployed):
    from tests.helpers.identity import IdentityProvider as Provider

    lucky = yaml.safe_load((Path(deployed["project"]) / "environments" / "models.yaml").read_text())["operators"]
    identity = next(o["identity"] for o in lucky if o["id"] == "lucky-lane")
    other = Provider()
    try:
        token = other.token("p-9", issuer=identity["issuer"])  # its issuer: the authorizer fetches its JWKS
    finally:
        other.stop()
    answer = _ask(deployed, "Bearer " + token, operator="lucky-lane", players=("p-9",))
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"] == "identity_provider_unavailable"


def test_predict_asks_as_a_device_with_a_token_and_says_why_a_bad_one_is_refused(deployed, tmp_path):
    records = tmp_path / "me.json"
    records.write_text(json.dumps([dict(copy.deepcopy(deployed["record"]), user_id="p-1")]))
    cli = cli_of(deployed["project"])
    args = ("predict", "--env", "local", "--model", MODEL, "--input", str(records), "--operator", "northbet")
    answer = json.loads(cli(*args, "--token", deployed["northbet"].token("p-1"), "--json"))
    assert [p["user_id"] for p in answer["predictions"]] == ["p-1"]
    with pytest.raises(AssertionError) as refused:
        cli(*args, "--token", deployed["northbet"].token("p-1", expires_in=-120))
    assert "the API refused the token (HTTP 401)" in str(refused.value)
