"""api.device_tokens and the operators' identity providers: checked when the configuration loads."""

from __future__ import annotations

import pytest
import yaml

from vwt_deploy.config import load
from vwt_deploy.deploy.tfvars import tfvars
from vwt_deploy.errors import ConfigError

IDENTITY = {"issuer": "https://login.northbet.example/", "jwks_url": "https://login.northbet.example/jwks.json",
            "audience": "vwt-predictions"}  # fmt: skip


def _with_identity(project_dir, identity=IDENTITY):
    path = project_dir / "environments" / "models.yaml"
    data = yaml.safe_load(path.read_text())
    data["operators"][0]["identity"] = identity
    path.write_text(yaml.safe_dump(data))


def test_an_operators_identity_reaches_the_authorizer(project_dir):
    _with_identity(project_dir)
    env = load("dev", project_dir, {"api": {"device_tokens": {"enabled": True}}})
    assert tfvars(env)["device_identities"] == {"northbet": {**IDENTITY, "player_claim": "player_id"}}
    assert tfvars(env)["api"]["device_tokens"] == {"enabled": True, "cache_seconds": 300, "leeway_seconds": 30,
                                                  "algorithms": ["RS256", "ES256"]}  # fmt: skip


def test_device_tokens_need_an_operator_with_an_identity_provider(project_dir):
    with pytest.raises(ConfigError) as bad:
        load("dev", project_dir, {"api": {"device_tokens": {"enabled": True}}})
    assert "no operator names its identity provider" in bad.value.message


def test_on_aws_the_identity_provider_is_https(project_dir):
    _with_identity(project_dir, {**IDENTITY, "jwks_url": "http://login.northbet.example/jwks.json"})
    with pytest.raises(ConfigError) as bad:
        load("dev", project_dir, {"api": {"device_tokens": {"enabled": True}}})
    assert "northbet is not served over HTTPS" in bad.value.message
    assert load("local", project_dir, {"api": {"device_tokens": {"enabled": True}}})  # a local test provider


def test_staging_and_prod_with_device_tokens_name_their_cors_origins(project_dir):
    _with_identity(project_dir)
    with pytest.raises(ConfigError) as bad:
        load("staging", project_dir, {"api": {"device_tokens": {"enabled": True}, "cors_allow_origins": ["*"]}})
    assert 'cannot be "*"' in bad.value.message
    env = load("staging", project_dir, {"api": {"device_tokens": {"enabled": True},
                                                "cors_allow_origins": ["https://app.northbet.example"]}})  # fmt: skip
    assert env.api.device_tokens.enabled


@pytest.mark.parametrize(
    "tokens",
    [{"algorithms": ["none"]}, {"algorithms": ["HS256"]}, {"algorithms": []}, {"cache_seconds": 3601},
     {"leeway_seconds": -1}],
)  # fmt: skip
def test_bad_token_settings_are_refused(project_dir, tokens):
    _with_identity(project_dir)
    with pytest.raises(ConfigError) as bad:
        load("dev", project_dir, {"api": {"device_tokens": {"enabled": True, **tokens}}})
    assert "device_tokens" in bad.value.message
