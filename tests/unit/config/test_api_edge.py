"""The API's edge: api.waf (on by default for staging and prod) and api.domain (the custom domain), their settings
checked when the configuration loads, and handed to Terraform resolved."""

from __future__ import annotations

import pytest

from vwt_deploy.config import load
from vwt_deploy.deploy.tfvars import tfvars
from vwt_deploy.errors import ConfigError


@pytest.mark.parametrize(("env", "on"), [("local", False), ("dev", False), ("staging", True), ("prod", True)])
def test_the_web_acl_is_on_by_default_for_staging_and_prod(project_dir, env, on):
    loaded = load(env, project_dir)
    assert loaded.waf_enabled is on
    assert tfvars(loaded)["api"]["waf"]["enabled"] is on


def test_an_environment_may_turn_it_on_or_off(project_dir):
    assert load("dev", project_dir, {"api": {"waf": {"enabled": True}}}).waf_enabled is True
    assert load("prod", project_dir, {"api": {"waf": {"enabled": False}}}).waf_enabled is False


def test_terraform_gets_the_rate_rule_and_the_groups(project_dir):
    waf = tfvars(load("staging", project_dir, {"api": {"waf": {"rate_limit": 500, "action": "count"}}}))["api"]["waf"]
    assert waf == {"enabled": True, "rate_limit": 500, "rate_window_seconds": 300,
                   "managed_rule_groups": ["AWSManagedRulesCommonRuleSet"], "action": "count"}  # fmt: skip


@pytest.mark.parametrize(
    ("waf", "problem"),
    [
        ({"rate_limit": 50}, "rate_limit"),
        ({"rate_window_seconds": 30}, "rate_window_seconds"),
        ({"action": "allow"}, "action"),
        ({"managed_rule_groups": ["SQLi"]}, "not an AWS managed rule group name: SQLi"),
        ({"managed_rule_groups": ["AWSManagedRulesSQLiRuleSet", "AWSManagedRulesSQLiRuleSet"]}, "listed twice"),
        ({"managed_rule_groups": ["AWSManagedRulesKnownBadInputsRuleSet"]}, "always on"),
    ],
)
def test_bad_waf_settings_are_one_message_naming_the_key(project_dir, waf, problem):
    with pytest.raises(ConfigError) as bad:
        load("staging", project_dir, {"api": {"waf": waf}})
    text = str(bad.value.message) + str(bad.value.hint or "")
    assert "api" in text and "waf" in text and problem in text


# ---------------------------------------------------------------- api.domain (the custom domain)
CERTIFICATE = "arn:aws:acm:eu-west-1:111111111111:certificate/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"


def test_a_custom_domain_reaches_terraform_as_given(project_dir):
    domain = {"name": "predictions.example.com", "certificate_arn": CERTIFICATE, "hosted_zone_id": "Z0123456789ABC"}
    assert tfvars(load("dev", project_dir, {"api": {"domain": domain}}))["api"]["domain"] == domain
    assert tfvars(load("dev", project_dir))["api"]["domain"] is None


@pytest.mark.parametrize(
    ("domain", "problem"),
    [
        ({"name": "Predictions.Example.com", "certificate_arn": CERTIFICATE}, "name"),
        ({"name": "predictions", "certificate_arn": CERTIFICATE}, "name"),
        ({"name": "predictions.example.com", "certificate_arn": "arn:aws:iam::111111111111:server-certificate/x"},
         "certificate_arn"),
        ({"name": "predictions.example.com", "certificate_arn": CERTIFICATE.replace("eu-west-1", "us-east-1")},
         "needs a certificate of the API's region eu-west-1"),
        ({"name": "predictions.example.com", "certificate_arn": CERTIFICATE.replace("111111111111", "999999999999")},
         "not to an allowed account"),
        ({"name": "predictions.example.com", "certificate_arn": CERTIFICATE, "hosted_zone_id": "zone-1"},
         "hosted_zone_id"),
    ],
)  # fmt: skip
def test_a_bad_custom_domain_is_one_message(project_dir, domain, problem):
    with pytest.raises(ConfigError) as bad:
        load("dev", project_dir, {"api": {"domain": domain}})
    assert problem in str(bad.value.message) + str(bad.value.hint or "")
