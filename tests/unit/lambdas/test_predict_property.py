"""Property: whatever the body, the handler answers 200 or a 4xx/5xx with a JSON error body; it never raises."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from predict.catalogue import Catalogue
from predict.handler import PredictionService

from tests.helpers.lambdas import ENVIRON, TEST_CATALOGUE, FakeEndpoint, FakeSns, event, good_risk

SERVICE = PredictionService(
    Catalogue(TEST_CATALOGUE), ENVIRON, sagemaker=FakeEndpoint(), sns=FakeSns(), log=lambda line: None
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)
field_names = st.sampled_from(["user_id", "age", "country", "deposit", "verified", "affiliate", "other"])
records = st.dictionaries(field_names, scalars, max_size=7)
near_valid = st.builds(
    lambda over, drop: {k: v for k, v in {**good_risk(), **over}.items() if k not in drop},
    st.dictionaries(field_names, scalars, max_size=3),
    st.sets(field_names, max_size=2),
)
bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"records": st.lists(st.one_of(records, near_valid, json_values), max_size=7)}, optional={"request_id": scalars}
    ),
)


def _check(resp):
    assert isinstance(resp, dict) and set(resp) == {"statusCode", "headers", "body"}
    status = resp["statusCode"]
    body = json.loads(resp["body"])
    assert isinstance(body, dict)
    if status == 200:
        assert len(body["predictions"]) >= 1
    else:
        assert 400 <= status < 500, body  # the endpoint and topics work here: no 5xx for any input
        assert isinstance(body["error"], str) and isinstance(body["message"], str)
        assert "Traceback" not in resp["body"]
    return status


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies, model=st.sampled_from(["risk", "spend", "nope", ""]))
def test_any_json_body(body, model):
    raw = json.dumps(body, allow_nan=True)  # NaN/Infinity literals included on purpose
    _check(SERVICE.handle(event(model=model, raw=raw)))


@settings(max_examples=150, deadline=None)
@given(
    raw=st.one_of(st.text(max_size=60), st.binary(max_size=60).map(lambda b: b.decode("latin-1"))), b64=st.booleans()
)
def test_any_text_body(raw, b64):
    ev = event(raw=raw)
    ev["isBase64Encoded"] = b64
    _check(SERVICE.handle(ev))


@settings(max_examples=100, deadline=None)
@given(
    ev=st.dictionaries(
        st.sampled_from(
            ["httpMethod", "pathParameters", "body", "headers", "requestContext", "path", "isBase64Encoded"]
        ),
        st.one_of(
            json_values,
            st.fixed_dictionaries({"model": json_values}),
            st.fixed_dictionaries({"requestId": json_values, "http": json_values}),
        ),
        max_size=7,
    )
)
def test_any_event_shape(ev):
    """Even a malformed event (not what API Gateway sends) gets a JSON answer, never an exception."""
    from predict import handler as module

    resp = module.PredictionService.handle(SERVICE, ev, None)
    assert json.loads(resp["body"]) is not None and 200 <= resp["statusCode"] < 600
