# Calls straight from players' devices (api.device_tokens): POST /v1/operators/{operator}/models/{model}/predictions
# with `Authorization: Bearer <token of the operator's identity provider>`, checked by a TOKEN Lambda authorizer
# (authorizer.device_token.handler, a package of its own with PyJWT), whose answer API Gateway caches per token for
# api.device_tokens.cache_seconds. The authorizer allows the operator's own route only; the prediction function
# refuses records of any other player than the token's. Checked against the API Gateway Developer Guide ("Use API
# Gateway Lambda authorizers": TOKEN type, identity source and validation expression, result TTL; "Gateway response
# types") and the provider's aws_api_gateway_authorizer.

locals {
  devices = var.api.device_tokens.enabled && var.authorizer_package_path != null && local.has_function
  # a JWT: three base64url parts (API Gateway answers 401 to anything else without calling the authorizer)
  bearer_jwt = "^Bearer [-_A-Za-z0-9]+\\.[-_A-Za-z0-9]+\\.[-_A-Za-z0-9]+$"
  authorizer = "${var.name_prefix}-device-token"
}

resource "aws_iam_role" "authorizer" {
  count              = local.devices ? 1 : 0
  name               = local.authorizer
  description        = "The device-token authorizer: writes its log and traces, nothing else"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json # Lambda's service principal, as the predict function's
  tags               = var.tags
}

data "aws_iam_policy_document" "authorizer" {
  statement {
    sid       = "OwnLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/lambda/${local.authorizer}:*"]
  }
  statement {
    sid       = "UseTheEnvironmentKey"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
  statement {
    sid       = "XRayTraces"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"] # iam-star-ok: X-Ray trace APIs support no resource-level permissions
  }
}

resource "aws_iam_role_policy" "authorizer" {
  count  = local.devices ? 1 : 0
  name   = "device-token"
  role   = aws_iam_role.authorizer[0].id
  policy = data.aws_iam_policy_document.authorizer.json
}

resource "aws_cloudwatch_log_group" "authorizer" {
  count             = local.devices ? 1 : 0
  name              = "/aws/lambda/${local.authorizer}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_lambda_function" "authorizer" {
  count            = local.devices ? 1 : 0
  function_name    = local.authorizer
  description      = "Checks the bearer tokens of players' devices against their operator's identity provider"
  role             = aws_iam_role.authorizer[0].arn
  handler          = "authorizer.device_token.handler"
  runtime          = var.lambda_runtime
  filename         = var.authorizer_package_path
  source_code_hash = filebase64sha256(var.authorizer_package_path)
  timeout          = 10
  memory_size      = 256
  kms_key_arn      = var.kms_key_arn

  reserved_concurrent_executions = var.reserved_concurrency

  tracing_config {
    mode = "Active"
  }

  environment {
    variables = {
      VWT_DEVICE_IDENTITIES = jsonencode(var.device_identities)
      VWT_TOKEN_ALGORITHMS  = join(",", var.api.device_tokens.algorithms)
      VWT_TOKEN_LEEWAY      = tostring(var.api.device_tokens.leeway_seconds)
    }
  }

  tags       = var.tags
  depends_on = [aws_iam_role_policy.authorizer, aws_cloudwatch_log_group.authorizer]
}

resource "aws_api_gateway_authorizer" "devices" {
  count                            = local.devices ? 1 : 0
  rest_api_id                      = aws_api_gateway_rest_api.this.id
  name                             = "device-token"
  type                             = "TOKEN"
  authorizer_uri                   = aws_lambda_function.authorizer[0].invoke_arn
  identity_source                  = "method.request.header.Authorization"
  identity_validation_expression   = local.bearer_jwt
  authorizer_result_ttl_in_seconds = var.api.device_tokens.cache_seconds
}

resource "aws_lambda_permission" "authorizer" {
  count         = local.devices ? 1 : 0
  statement_id  = "AllowThisApisAuthorizerOnly"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.authorizer[0].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_api_gateway_rest_api.this.execution_arn}/authorizers/${aws_api_gateway_authorizer.devices[0].id}"
}

# /v1/operators/{operator}/models/{model}/predictions
resource "aws_api_gateway_resource" "operators" {
  count       = local.devices ? 1 : 0
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.v1.id
  path_part   = "operators"
}

resource "aws_api_gateway_resource" "operator" {
  count       = local.devices ? 1 : 0
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.operators[0].id
  path_part   = "{operator}"
}

resource "aws_api_gateway_resource" "operator_models" {
  count       = local.devices ? 1 : 0
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.operator[0].id
  path_part   = "models"
}

resource "aws_api_gateway_resource" "operator_model" {
  count       = local.devices ? 1 : 0
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.operator_models[0].id
  path_part   = "{model}"
}

resource "aws_api_gateway_resource" "device_predictions" {
  count       = local.devices ? 1 : 0
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.operator_model[0].id
  path_part   = "predictions"
}

resource "aws_api_gateway_method" "device_predict" {
  count                = local.devices ? 1 : 0
  rest_api_id          = aws_api_gateway_rest_api.this.id
  resource_id          = aws_api_gateway_resource.device_predictions[0].id
  http_method          = "POST"
  authorization        = "CUSTOM"
  authorizer_id        = aws_api_gateway_authorizer.devices[0].id
  request_validator_id = aws_api_gateway_request_validator.this.id
  request_models       = { "application/json" = aws_api_gateway_model.request.name }
  request_parameters = {
    "method.request.path.operator" = true
    "method.request.path.model"    = true
  }
}

resource "aws_api_gateway_integration" "device_predict" {
  count                   = local.devices ? 1 : 0
  rest_api_id             = aws_api_gateway_rest_api.this.id
  resource_id             = aws_api_gateway_resource.device_predictions[0].id
  http_method             = aws_api_gateway_method.device_predict[0].http_method
  type                    = "AWS_PROXY"
  integration_http_method = "POST"
  uri                     = aws_lambda_function.this[0].invoke_arn
  timeout_milliseconds    = 29000
}

resource "aws_lambda_permission" "device_api" {
  count         = local.devices ? 1 : 0
  statement_id  = "AllowThisApisDeviceRouteOnly"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this[0].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_api_gateway_rest_api.this.execution_arn}/*/POST/v1/operators/*/models/*/predictions"
}

# The device route's CORS preflight (web apps of the operators call it from their pages) is main.tf's, one per route
