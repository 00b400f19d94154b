# The prediction_api module planned with a mocked AWS provider.
# lambda_package_path comes from the command line (-var): tests/terraform builds a real zip.

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "111111111111", arn = "arn:aws:iam::111111111111:user/test", user_id = "TEST" }
  }
  mock_data "aws_region" {
    defaults = { name = "eu-west-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  mock_resource "aws_api_gateway_rest_api" {
    override_during = plan
    defaults = {
      id               = "a1b2c3d4e5"
      root_resource_id = "r00t"
      execution_arn    = "arn:aws:execute-api:eu-west-1:111111111111:a1b2c3d4e5"
    }
  }
}

variables {
  name_prefix                    = "vwt-dev"
  environment                    = "dev"
  kms_key_arn                    = "arn:aws:kms:eu-west-1:111111111111:key/00000000-0000-0000-0000-000000000000"
  endpoint_names                 = { "gb-marketing" = "vwt-dev-gb-marketing", "gb-problem-gambling" = "vwt-dev-gb-problem-gambling" }
  endpoint_arns                  = ["arn:aws:sagemaker:eu-west-1:111111111111:endpoint/vwt-dev-gb-marketing", "arn:aws:sagemaker:eu-west-1:111111111111:endpoint/vwt-dev-gb-problem-gambling"]
  intervention_topic_arn         = "arn:aws:sns:eu-west-1:111111111111:vwt-dev-intervention"
  operator_topic_arn             = "arn:aws:sns:eu-west-1:111111111111:vwt-dev-operator"
  current_model_parameter_prefix = "/vwt-dev/current-model"
  log_retention_days             = 30
  api = {
    throttle_rate_limit = 20, throttle_burst_limit = 40, quota_limit = 100000, quota_period = "DAY"
    max_records         = 1000, cors_allow_origins = ["https://app.example.com", "https://m.example.com"]
    waf                 = { enabled = false, rate_limit = 2000, rate_window_seconds = 300, managed_rule_groups = ["AWSManagedRulesCommonRuleSet"], action = "block" }
    domain              = null
    device_tokens       = { enabled = false, cache_seconds = 300, leeway_seconds = 30, algorithms = ["RS256"] }
  }
  operators = {
    northbet     = { name = "NorthBet B.V.", throttle_rate_limit = 20, throttle_burst_limit = 40, quota_limit = 100000, quota_period = "DAY" }
    "lucky-lane" = { name = "Lucky Lane Ltd", throttle_rate_limit = 5, throttle_burst_limit = 10, quota_limit = 500, quota_period = "WEEK" }
  }
}

run "prediction_method_requires_an_api_key" {
  command = plan
  module {
    source = "./modules/prediction_api"
  }

  assert {
    condition     = aws_api_gateway_method.predict.http_method == "POST" && aws_api_gateway_method.predict.api_key_required
    error_message = "POST /v1/models/{model}/predictions must require an API key"
  }
  assert {
    condition = (aws_api_gateway_resource.v1.path_part == "v1" && aws_api_gateway_resource.models.path_part == "models" &&
    aws_api_gateway_resource.model.path_part == "{model}" && aws_api_gateway_resource.predictions.path_part == "predictions")
    error_message = "the path must be /v1/models/{model}/predictions"
  }
  assert {
    condition     = aws_api_gateway_request_validator.this.validate_request_body && aws_api_gateway_method.predict.request_models["application/json"] == "PredictionRequest"
    error_message = "request bodies must be validated against the request model"
  }
  assert {
    condition     = jsondecode(aws_api_gateway_model.request.schema).properties.records.maxItems == 1000 && jsondecode(aws_api_gateway_model.request.schema).required == ["records"]
    error_message = "the request model must require records, bounded by api.max_records"
  }
  assert {
    condition = (
      aws_api_gateway_usage_plan.this["northbet"].throttle_settings[0].rate_limit == 20 &&
      aws_api_gateway_usage_plan.this["northbet"].throttle_settings[0].burst_limit == 40 &&
      aws_api_gateway_usage_plan.this["northbet"].quota_settings[0].limit == 100000 &&
      aws_api_gateway_usage_plan.this["northbet"].quota_settings[0].period == "DAY" &&
      aws_api_gateway_usage_plan.this["lucky-lane"].throttle_settings[0].rate_limit == 5 &&
      aws_api_gateway_usage_plan.this["lucky-lane"].quota_settings[0].limit == 500 &&
      aws_api_gateway_usage_plan.this["lucky-lane"].quota_settings[0].period == "WEEK"
    )
    error_message = "each operator's usage plan must carry its own throttling and quota"
  }
  assert {
    condition = (
      toset(keys(aws_api_gateway_api_key.this)) == toset(["northbet", "lucky-lane"]) &&
      aws_api_gateway_api_key.this["lucky-lane"].name == "vwt-dev-lucky-lane" &&
      toset(keys(aws_api_gateway_usage_plan_key.this)) == toset(["northbet", "lucky-lane"]) &&
      aws_api_gateway_usage_plan.this["lucky-lane"].name == "vwt-dev-lucky-lane"
    )
    error_message = "each operator must have its own key, on its own usage plan"
  }
  assert {
    condition     = aws_api_gateway_method.options["models"].api_key_required == false && aws_api_gateway_integration.options["models"].type == "MOCK"
    error_message = "the CORS preflight answers without a key"
  }
  assert {
    condition = (strcontains(aws_api_gateway_integration_response.options["models"].response_templates["application/json"], "https://m.example.com") &&
    aws_api_gateway_integration_response.options["models"].response_parameters["method.response.header.Access-Control-Allow-Methods"] == "'OPTIONS,POST'")
    error_message = "the preflight must reflect every configured origin and allow POST"
  }
  assert {
    condition     = aws_api_gateway_stage.this.xray_tracing_enabled && length(aws_api_gateway_stage.this.access_log_settings) == 1
    error_message = "the stage must trace and write access logs"
  }
  assert {
    condition     = aws_api_gateway_method_settings.this.settings[0].data_trace_enabled == false && aws_api_gateway_method_settings.this.settings[0].metrics_enabled
    error_message = "request bodies (player data) must never be logged"
  }
}

run "lambda_proxy_integration" {
  command = plan
  module {
    source = "./modules/prediction_api"
  }

  assert {
    condition     = length(aws_lambda_function.this) == 1 && aws_api_gateway_integration.predict.type == "AWS_PROXY"
    error_message = "with a package (-var lambda_package_path, given by tests/terraform) the method is a Lambda proxy"
  }
  assert {
    condition     = aws_lambda_function.this[0].handler == "predict.handler.handler" && aws_lambda_function.this[0].source_code_hash == filebase64sha256(var.lambda_package_path)
    error_message = "the function runs predict.handler.handler from the package"
  }
  assert {
    condition     = jsondecode(aws_lambda_function.this[0].environment[0].variables.VWT_ENDPOINTS)["gb-marketing"] == "vwt-dev-gb-marketing"
    error_message = "the function learns the endpoint names from its environment"
  }
  assert {
    condition     = aws_lambda_permission.api[0].source_arn == "arn:aws:execute-api:eu-west-1:111111111111:a1b2c3d4e5/*/POST/v1/models/*/predictions" && aws_lambda_permission.api[0].principal == "apigateway.amazonaws.com"
    error_message = "only this API's prediction method may invoke the function"
  }
  assert {
    condition = jsondecode(aws_iam_role_policy.application.policy).Statement == [{
      Sid      = "UseLambdaFunction"
      Effect   = "Allow"
      Action   = ["lambda:InvokeFunction", "lambda:GetFunctionConfiguration"]
      Resource = "arn:aws:lambda:eu-west-1:111111111111:function:vwt-dev-predict"
    }]
    error_message = "the application role has exactly the seed's policy on the function's ARN"
  }
}

run "without_a_package_the_api_answers_503" {
  command = plan
  module {
    source = "./modules/prediction_api"
  }
  variables {
    lambda_package_path = null
  }

  assert {
    condition     = length(aws_lambda_function.this) == 0 && aws_api_gateway_integration.predict.type == "MOCK" && aws_api_gateway_method_response.unavailable[0].status_code == "503"
    error_message = "without a package the method is a 503 mock, not a broken proxy"
  }
  assert {
    condition     = aws_api_gateway_method.predict.api_key_required
    error_message = "the key is required either way"
  }
}

run "bad_cors_origin_is_refused" {
  command = plan
  module {
    source = "./modules/prediction_api"
  }
  variables {
    api = {
      throttle_rate_limit = 20, throttle_burst_limit = 40, quota_limit = 100000, quota_period = "DAY"
      max_records         = 1000, cors_allow_origins = ["app.example.com/path"]
      waf                 = { enabled = false, rate_limit = 2000, rate_window_seconds = 300, managed_rule_groups = ["AWSManagedRulesCommonRuleSet"], action = "block" }
      domain              = null
      device_tokens       = { enabled = false, cache_seconds = 300, leeway_seconds = 30, algorithms = ["RS256"] }
    }
  }
  expect_failures = [var.api]
}

run "gateway_error_bodies_are_json_whatever_the_validation_error" {
  command = plan
  module {
    source = "./modules/prediction_api"
  }

  # Gateway response templates are plain substitutions (no VTL, no escaping): each must be valid JSON with
  # API Gateway's values put in, and none may carry validationErrorString, whose text holds bare '"'
  # (e.g. [object has missing required properties (["records"])]).
  assert {
    condition = alltrue([for r in aws_api_gateway_gateway_response.this :
      can(jsondecode(replace(replace(r.response_templates["application/json"],
        "$context.error.messageString", "\"Invalid request body\""),
      "$context.requestId", "0d9e2c4b-1111-2222-3333-444455556666")))
    ])
    error_message = "every gateway response body is valid JSON once API Gateway has filled it in"
  }
  assert {
    condition     = alltrue([for r in aws_api_gateway_gateway_response.this : !strcontains(r.response_templates["application/json"], "validationErrorString")])
    error_message = "no gateway response embeds $context.error.validationErrorString (it holds unescaped quotes)"
  }
  assert {
    condition     = strcontains(aws_api_gateway_gateway_response.this["BAD_REQUEST_BODY"].response_templates["application/json"], "1 to 1000 objects")
    error_message = "an invalid body's answer names the envelope the gateway checks, with this environment's record limit"
  }
}

run "no_web_acl_unless_asked" {
  command = plan
  module {
    source = "./modules/prediction_api"
  }
  assert {
    condition     = length(aws_wafv2_web_acl.api) == 0 && length(aws_wafv2_web_acl_association.api) == 0
    error_message = "api.waf.enabled = false must create no web ACL"
  }
}

run "web_acl_limits_each_client_ip_then_applies_the_managed_rules" {
  command = plan
  module {
    source = "./modules/prediction_api"
  }
  variables {
    api = {
      throttle_rate_limit = 20, throttle_burst_limit = 40, quota_limit = 100000, quota_period = "DAY"
      max_records         = 1000, cors_allow_origins = ["https://app.example.com"]
      waf = {
        enabled             = true, rate_limit = 500, rate_window_seconds = 60, action = "block"
        managed_rule_groups = ["AWSManagedRulesCommonRuleSet", "AWSManagedRulesSQLiRuleSet"]
      }
      domain        = null
      device_tokens = { enabled = false, cache_seconds = 300, leeway_seconds = 30, algorithms = ["RS256"] }
    }
  }
  assert {
    condition     = aws_wafv2_web_acl.api[0].scope == "REGIONAL" && one(aws_wafv2_web_acl.api[0].default_action[0].allow) != null
    error_message = "a regional web ACL that allows what no rule matches"
  }
  assert {
    condition = anytrue([for r in aws_wafv2_web_acl.api[0].rule : try(r.priority == 0 && r.statement[0].rate_based_statement[0].limit == 500 &&
    r.statement[0].rate_based_statement[0].evaluation_window_sec == 60 && r.statement[0].rate_based_statement[0].aggregate_key_type == "IP" && length(r.action[0].block) == 1, false)])
    error_message = "the first rule blocks a client IP over api.waf.rate_limit in the window"
  }
  assert {
    condition = anytrue([for r in aws_wafv2_web_acl.api[0].rule : try(r.name == "AWSManagedRulesCommonRuleSet" && r.priority == 2 &&
      r.statement[0].managed_rule_group_statement[0].rule_action_override[0].name == "SizeRestrictions_BODY" &&
    length(r.statement[0].managed_rule_group_statement[0].rule_action_override[0].action_to_use[0].count) == 1, false)])
    error_message = "the core rule set must count, not block, bodies over 8 KB (prediction batches are larger)"
  }
  assert {
    condition = (anytrue([for r in aws_wafv2_web_acl.api[0].rule : r.name == "AWSManagedRulesKnownBadInputsRuleSet" && r.priority == 1]) &&
    anytrue([for r in aws_wafv2_web_acl.api[0].rule : r.name == "AWSManagedRulesSQLiRuleSet" && r.priority == 3]))
    error_message = "known bad inputs always, then the managed rule groups in their order"
  }
  assert {
    condition     = length(aws_wafv2_web_acl_association.api) == 1
    error_message = "the web ACL must protect the stage"
  }
}

run "count_mode_counts_all_but_known_exploits" {
  command = plan
  module {
    source = "./modules/prediction_api"
  }
  variables {
    api = {
      throttle_rate_limit = 20, throttle_burst_limit = 40, quota_limit = 100000, quota_period = "DAY"
      max_records         = 1000, cors_allow_origins = ["https://app.example.com"]
      waf                 = { enabled = true, rate_limit = 500, rate_window_seconds = 300, managed_rule_groups = ["AWSManagedRulesCommonRuleSet"], action = "count" }
      domain              = null
      device_tokens       = { enabled = false, cache_seconds = 300, leeway_seconds = 30, algorithms = ["RS256"] }
    }
  }
  assert {
    condition = alltrue([for r in aws_wafv2_web_acl.api[0].rule : r.name == "AWSManagedRulesKnownBadInputsRuleSet" ?
    length(r.override_action[0].none) == 1 : (try(length(r.override_action[0].count) == 1, false) || try(length(r.action[0].count) == 1, false))])
    error_message = "in count mode every rule counts, except known bad inputs, which still block"
  }
}

run "bad_waf_settings_are_refused" {
  command = plan
  module {
    source = "./modules/prediction_api"
  }
  variables {
    api = {
      throttle_rate_limit = 20, throttle_burst_limit = 40, quota_limit = 100000, quota_period = "DAY"
      max_records         = 1000, cors_allow_origins = ["https://app.example.com"]
      waf                 = { enabled = true, rate_limit = 50, rate_window_seconds = 30, managed_rule_groups = ["AWSManagedRulesKnownBadInputsRuleSet"], action = "allow" }
      domain              = null
      device_tokens       = { enabled = false, cache_seconds = 300, leeway_seconds = 30, algorithms = ["RS256"] }
    }
  }
  expect_failures = [var.api]
}

run "a_custom_domain_maps_the_stage_at_its_root_with_tls_1_2" {
  command = plan
  module {
    source = "./modules/prediction_api"
  }
  variables {
    api = {
      throttle_rate_limit = 20, throttle_burst_limit = 40, quota_limit = 100000, quota_period = "DAY"
      max_records         = 1000, cors_allow_origins = ["https://app.example.com"]
      waf                 = { enabled = false, rate_limit = 2000, rate_window_seconds = 300, managed_rule_groups = ["AWSManagedRulesCommonRuleSet"], action = "block" }
      domain = {
        name            = "predictions.example.com"
        certificate_arn = "arn:aws:acm:eu-west-1:111111111111:certificate/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
        hosted_zone_id  = "Z0123456789ABCDEFGHIJ"
      }
      device_tokens = { enabled = false, cache_seconds = 300, leeway_seconds = 30, algorithms = ["RS256"] }
    }
  }
  assert {
    condition = (aws_api_gateway_domain_name.this[0].domain_name == "predictions.example.com" &&
      aws_api_gateway_domain_name.this[0].security_policy == "TLS_1_2" &&
      aws_api_gateway_domain_name.this[0].endpoint_configuration[0].types == tolist(["REGIONAL"]) &&
    aws_api_gateway_domain_name.this[0].regional_certificate_arn == "arn:aws:acm:eu-west-1:111111111111:certificate/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0")
    error_message = "a regional domain with the environment's certificate and TLS 1.2"
  }
  assert {
    condition     = aws_api_gateway_base_path_mapping.this[0].domain_name == "predictions.example.com" && aws_api_gateway_base_path_mapping.this[0].base_path == null
    error_message = "the stage is mapped at the domain's root"
  }
  assert {
    condition     = aws_route53_record.this[0].zone_id == "Z0123456789ABCDEFGHIJ" && aws_route53_record.this[0].type == "A" && aws_route53_record.this[0].name == "predictions.example.com"
    error_message = "an alias A record in the given hosted zone"
  }
}

run "a_domain_without_a_zone_makes_no_record" {
  command = plan
  module {
    source = "./modules/prediction_api"
  }
  variables {
    api = {
      throttle_rate_limit = 20, throttle_burst_limit = 40, quota_limit = 100000, quota_period = "DAY"
      max_records         = 1000, cors_allow_origins = ["https://app.example.com"]
      waf                 = { enabled = false, rate_limit = 2000, rate_window_seconds = 300, managed_rule_groups = ["AWSManagedRulesCommonRuleSet"], action = "block" }
      domain              = { name = "predictions.example.com", certificate_arn = "arn:aws:acm:eu-west-1:111111111111:certificate/abc", hosted_zone_id = null }
      device_tokens       = { enabled = false, cache_seconds = 300, leeway_seconds = 30, algorithms = ["RS256"] }
    }
  }
  assert {
    condition     = length(aws_api_gateway_domain_name.this) == 1 && length(aws_route53_record.this) == 0
    error_message = "without a hosted zone the domain is made, and its DNS record is left to the owner of the zone"
  }
}
