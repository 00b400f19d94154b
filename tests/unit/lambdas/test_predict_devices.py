"""The prediction function on the device route: the operator is the token's (the authorizer's context) and must be
the path's, and a token that names its player may ask about that player only; nothing else is scored."""

from __future__ import annotations

from tests.helpers.lambdas import FakeEndpoint, answer, event, good_risk


def _device(body, operator="northbet", path_operator="northbet", player="p1"):
    out = event(body=body, operator=None)
    out["resource"] = "/v1/operators/{operator}/models/{model}/predictions"
    out["pathParameters"] = {"operator": path_operator, "model": "risk"}
    context = {"principalId": f"{operator}:user", "operator_id": operator}
    if player is not None:
        context["player_id"] = player
    out["requestContext"]["authorizer"] = context
    return out


def test_a_device_gets_its_players_prediction_for_its_operator(make_service):
    endpoint = FakeEndpoint(scores=[0.2])
    status, body = answer(make_service(endpoint).handle(_device({"records": [good_risk(user_id="p1")]})))
    assert status == 200 and body["operator_id"] == "northbet"
    assert len(endpoint.calls) == 1


def test_a_record_of_another_player_is_403_and_nothing_is_scored(make_service):
    endpoint = FakeEndpoint(scores=[0.2, 0.3])
    records = [good_risk(user_id="p1"), good_risk(user_id="p2")]
    status, body = answer(make_service(endpoint).handle(_device({"records": records})))
    assert status == 403 and body["error"] == "not_your_player"
    assert endpoint.calls == []


def test_a_token_without_a_player_may_ask_for_its_operators_players(make_service):
    endpoint = FakeEndpoint(scores=[0.2, 0.3])
    records = [good_risk(user_id="p1"), good_risk(user_id="p2")]
    status, _ = answer(make_service(endpoint).handle(_device({"records": records}, player=None)))
    assert status == 200


def test_the_authorizers_operator_must_be_the_paths(make_service):
    endpoint = FakeEndpoint(scores=[0.2])
    status, body = answer(
        make_service(endpoint).handle(_device({"records": [good_risk()]}, path_operator="lucky-lane"))
    )
    assert status == 403 and body["error"] == "unknown_operator"
    assert endpoint.calls == []
