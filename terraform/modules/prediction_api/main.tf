# The prediction API: POST /v1/models/{model}/predictions
#   API Gateway (API key + usage plan, request validation, CORS, access logs)
#   -> Lambda proxy integration (predict.handler.handler: filter, preprocess)
#   -> the model's SageMaker endpoint; predictions go on to the consumer topics.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id   = data.aws_caller_identity.current.account_id
  region       = data.aws_region.current.name
  partition    = data.aws_partition.current.partition
  function     = "${var.name_prefix}-predict"
  has_function = var.lambda_package_path != null

  origins       = var.api.cors_allow_origins
  any_origin    = contains(local.origins, "*")
  allow_headers = "Content-Type,X-Api-Key,X-Request-Id,Authorization,X-Amz-Date,X-Amz-Security-Token"
  allow_methods = "OPTIONS,POST"

  # API Gateway returns one static origin header; for a list of origins, the OPTIONS
  # mock reflects the caller's Origin when it is one of them (VTL below).
  static_origin = local.any_origin ? "*" : local.origins[0]
  cors_template = local.any_origin ? "" : join("\n", [
    "#set($origin = $input.params().header.get('Origin'))",
    "#if(\"$!origin\" == \"\")#set($origin = $input.params().header.get('origin'))#end",
    "#if(${join(" || ", [for o in local.origins : "\"$!origin\" == \"${o}\""])})",
    "#set($context.responseOverride.header.Access-Control-Allow-Origin = $origin)",
    "#end",
  ])

  default_schema = jsonencode({
    "$schema" = "http://json-schema.org/draft-04/schema#"
    title     = "PredictionRequest"
    type      = "object"
    required  = ["records"]
    properties = {
      records = {
        type     = "array"
        minItems = 1
        maxItems = var.api.max_records
        items    = { type = "object" }
      }
      request_id = { type = "string", minLength = 1, maxLength = 128 }
    }
  })
}

# ---------------------------------------------------------------- the prediction function

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "lambda" {
  name               = "${local.function}-lambda"
  description        = "The prediction function of ${var.name_prefix}"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "lambda" {
  statement {
    sid       = "WriteItsLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.lambda.arn}:*"]
  }

  dynamic "statement" {
    for_each = length(var.endpoint_arns) > 0 ? [1] : []
    content {
      sid       = "InvokeThisEnvironmentsEndpoints"
      actions   = ["sagemaker:InvokeEndpoint"]
      resources = var.endpoint_arns
    }
  }

  statement {
    sid       = "PublishToTheConsumerTopics"
    actions   = ["sns:Publish"]
    resources = [var.intervention_topic_arn, var.operator_topic_arn]
  }

  dynamic "statement" {
    for_each = length(var.current_model_parameter_arns) > 0 ? [1] : []
    content {
      sid       = "ReadTheCurrentModel"
      actions   = ["ssm:GetParameter"]
      resources = var.current_model_parameter_arns
    }
  }

  statement {
    sid       = "UseTheEnvironmentKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }

  statement {
    sid       = "XRayTraces"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"] # iam-star-ok: X-Ray trace APIs support no resource-level permissions
  }
}

resource "aws_iam_role_policy" "lambda" {
  name   = "predict"
  role   = aws_iam_role.lambda.id
  policy = data.aws_iam_policy_document.lambda.json
}

resource "aws_cloudwatch_log_group" "lambda" {
  name              = "/aws/lambda/${local.function}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_lambda_function" "this" {
  count            = local.has_function ? 1 : 0
  function_name    = local.function
  description      = "Filters and preprocesses prediction requests, calls the model's endpoint, feeds the consumers"
  role             = aws_iam_role.lambda.arn
  handler          = "predict.handler.handler"
  runtime          = var.lambda_runtime
  filename         = var.lambda_package_path
  source_code_hash = filebase64sha256(var.lambda_package_path)
  timeout          = 28 # below API Gateway's 29 s integration timeout
  memory_size      = 256
  kms_key_arn      = var.kms_key_arn

  reserved_concurrent_executions = var.reserved_concurrency # null: the unreserved pool (checkov CKV_AWS_115 skipped, see .checkov.yaml)

  tracing_config {
    mode = "Active"
  }

  environment {
    variables = {
      VWT_ENVIRONMENT                    = var.environment
      VWT_ENDPOINTS                      = jsonencode(var.endpoint_names)
      VWT_INTERVENTION_TOPIC_ARN         = var.intervention_topic_arn
      VWT_OPERATOR_TOPIC_ARN             = var.operator_topic_arn
      VWT_OPERATOR_KEYS                  = jsonencode({ for id, key in aws_api_gateway_api_key.this : key.id => id })
      VWT_CURRENT_MODEL_PARAMETER_PREFIX = var.current_model_parameter_prefix
      VWT_MAX_RECORDS                    = tostring(var.api.max_records)
      VWT_CORS_ALLOW_ORIGINS             = join(",", local.origins)
    }
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.lambda, aws_cloudwatch_log_group.lambda]
}

# The seed's application role: exactly lambda:InvokeFunction and lambda:GetFunctionConfiguration on the function.
data "aws_iam_policy_document" "application_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = length(var.application_principal_arns) > 0 ? var.application_principal_arns : ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }
}

resource "aws_iam_role" "application" {
  name               = "${var.name_prefix}-application"
  description        = "The application's role: may use the prediction function, nothing else"
  assume_role_policy = data.aws_iam_policy_document.application_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "application" {
  name = "use-lambda-function"
  role = aws_iam_role.application.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "UseLambdaFunction"
      Effect   = "Allow"
      Action   = ["lambda:InvokeFunction", "lambda:GetFunctionConfiguration"]
      Resource = "arn:${local.partition}:lambda:${local.region}:${local.account_id}:function:${local.function}"
    }]
  })
}

# ---------------------------------------------------------------- the REST API

resource "aws_api_gateway_rest_api" "this" {
  name        = "${var.name_prefix}-predictions"
  description = "VWT predictions (${var.environment}): POST /v1/models/{model}/predictions"
  endpoint_configuration {
    types = ["REGIONAL"]
  }
  tags = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_api_gateway_resource" "v1" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_rest_api.this.root_resource_id
  path_part   = "v1"
}

resource "aws_api_gateway_resource" "models" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.v1.id
  path_part   = "models"
}

resource "aws_api_gateway_resource" "model" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.models.id
  path_part   = "{model}"
}

resource "aws_api_gateway_resource" "predictions" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.model.id
  path_part   = "predictions"
}

resource "aws_api_gateway_request_validator" "this" {
  rest_api_id                 = aws_api_gateway_rest_api.this.id
  name                        = "body-and-parameters"
  validate_request_body       = true
  validate_request_parameters = true
}

resource "aws_api_gateway_model" "request" {
  rest_api_id  = aws_api_gateway_rest_api.this.id
  name         = "PredictionRequest"
  description  = "A batch of records to predict"
  content_type = "application/json"
  schema       = coalesce(var.request_schema, local.default_schema)
}

resource "aws_api_gateway_method" "predict" {
  rest_api_id          = aws_api_gateway_rest_api.this.id
  resource_id          = aws_api_gateway_resource.predictions.id
  http_method          = "POST"
  authorization        = "NONE" # callers are applications identified by their API key (usage plan); see README
  api_key_required     = true
  request_validator_id = aws_api_gateway_request_validator.this.id
  request_models       = { "application/json" = aws_api_gateway_model.request.name }
  request_parameters = {
    "method.request.path.model" = true
  }
}

resource "aws_api_gateway_integration" "predict" {
  rest_api_id             = aws_api_gateway_rest_api.this.id
  resource_id             = aws_api_gateway_resource.predictions.id
  http_method             = aws_api_gateway_method.predict.http_method
  type                    = local.has_function ? "AWS_PROXY" : "MOCK"
  integration_http_method = local.has_function ? "POST" : null
  uri                     = local.has_function ? aws_lambda_function.this[0].invoke_arn : null
  timeout_milliseconds    = 29000
  request_templates       = local.has_function ? null : { "application/json" = "{\"statusCode\": 503}" }
}

# Without a function (no package yet) the method answers 503 with a message.
resource "aws_api_gateway_method_response" "unavailable" {
  count       = local.has_function ? 0 : 1
  rest_api_id = aws_api_gateway_rest_api.this.id
  resource_id = aws_api_gateway_resource.predictions.id
  http_method = aws_api_gateway_method.predict.http_method
  status_code = "503"
}

resource "aws_api_gateway_integration_response" "unavailable" {
  count       = local.has_function ? 0 : 1
  rest_api_id = aws_api_gateway_rest_api.this.id
  resource_id = aws_api_gateway_resource.predictions.id
  http_method = aws_api_gateway_method.predict.http_method
  status_code = aws_api_gateway_method_response.unavailable[0].status_code
  response_templates = {
    "application/json" = jsonencode({ message = "the prediction function is not deployed yet: run vwt-deploy up" })
  }
  depends_on = [aws_api_gateway_integration.predict]
}

resource "aws_lambda_permission" "api" {
  count         = local.has_function ? 1 : 0
  statement_id  = "AllowThisApiOnly"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this[0].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_api_gateway_rest_api.this.execution_arn}/*/POST/v1/models/*/predictions"
}

# ---------------------------------------------------------------- CORS (web and mobile clients)

# One preflight per route a browser calls: the API-key route, and the device route where devices send tokens
# (devices.tf). Both answer the same: the allowed headers and methods, and the origin (reflected from a list).
locals {
  preflight_routes = merge(
    { models = aws_api_gateway_resource.predictions.id },
    local.devices ? { devices = aws_api_gateway_resource.device_predictions[0].id } : {},
  )
}

resource "aws_api_gateway_method" "options" {
  #checkov:skip=CKV2_AWS_53:a CORS preflight has no body or parameters to validate
  for_each         = local.preflight_routes
  rest_api_id      = aws_api_gateway_rest_api.this.id
  resource_id      = each.value
  http_method      = "OPTIONS"
  authorization    = "NONE" # a CORS preflight carries no credentials by definition
  api_key_required = false
}

resource "aws_api_gateway_integration" "options" {
  for_each          = aws_api_gateway_method.options
  rest_api_id       = aws_api_gateway_rest_api.this.id
  resource_id       = each.value.resource_id
  http_method       = each.value.http_method
  type              = "MOCK"
  request_templates = { "application/json" = "{\"statusCode\": 200}" }
}

resource "aws_api_gateway_method_response" "options" {
  for_each    = aws_api_gateway_method.options
  rest_api_id = aws_api_gateway_rest_api.this.id
  resource_id = each.value.resource_id
  http_method = each.value.http_method
  status_code = "200"
  response_models = {
    "application/json" = "Empty"
  }
  response_parameters = {
    "method.response.header.Access-Control-Allow-Headers" = true
    "method.response.header.Access-Control-Allow-Methods" = true
    "method.response.header.Access-Control-Allow-Origin"  = true
    "method.response.header.Access-Control-Max-Age"       = true
    "method.response.header.Vary"                         = true
  }
}

resource "aws_api_gateway_integration_response" "options" {
  for_each    = aws_api_gateway_method_response.options
  rest_api_id = aws_api_gateway_rest_api.this.id
  resource_id = each.value.resource_id
  http_method = each.value.http_method
  status_code = each.value.status_code
  response_parameters = {
    "method.response.header.Access-Control-Allow-Headers" = "'${local.allow_headers}'"
    "method.response.header.Access-Control-Allow-Methods" = "'${local.allow_methods}'"
    "method.response.header.Access-Control-Allow-Origin"  = "'${local.static_origin}'"
    "method.response.header.Access-Control-Max-Age"       = "'600'"
    "method.response.header.Vary"                         = "'Origin'"
  }
  response_templates = {
    "application/json" = local.cors_template
  }
  depends_on = [aws_api_gateway_integration.options]
}

# Where the preflights were before they shared these resources: deployed stacks keep them, nothing is replaced
moved {
  from = aws_api_gateway_method.options
  to   = aws_api_gateway_method.options["models"]
}
moved {
  from = aws_api_gateway_integration.options
  to   = aws_api_gateway_integration.options["models"]
}
moved {
  from = aws_api_gateway_method_response.options
  to   = aws_api_gateway_method_response.options["models"]
}
moved {
  from = aws_api_gateway_integration_response.options
  to   = aws_api_gateway_integration_response.options["models"]
}
moved {
  from = aws_api_gateway_method.device_options[0]
  to   = aws_api_gateway_method.options["devices"]
}
moved {
  from = aws_api_gateway_integration.device_options[0]
  to   = aws_api_gateway_integration.options["devices"]
}
moved {
  from = aws_api_gateway_method_response.device_options[0]
  to   = aws_api_gateway_method_response.options["devices"]
}
moved {
  from = aws_api_gateway_integration_response.device_options[0]
  to   = aws_api_gateway_integration_response.options["devices"]
}

# Errors API Gateway answers itself (missing key, throttled, invalid body) carry CORS headers
# too, so browsers can read them. The templates are not VTL ("a non-VTL mapping template supporting only
# simple variable substitutions"): nothing can escape a value, so only values that are valid JSON as they
# stand appear. messageString is "the quoted value of $context.error.message": it stands bare.
# validationErrorString is not quoted and holds '"' (e.g. [object has missing required properties
# (["records"])]), so it never appears: the gateway checks only the envelope, which the detail names, and
# the Lambda lists every problem of the records by record and field.
resource "aws_api_gateway_gateway_response" "this" {
  for_each = {
    DEFAULT_4XX      = "{\"message\": $context.error.messageString, \"request_id\": \"$context.requestId\"}"
    DEFAULT_5XX      = "{\"message\": $context.error.messageString, \"request_id\": \"$context.requestId\"}"
    BAD_REQUEST_BODY = "{\"message\": $context.error.messageString, \"detail\": \"the body must be a JSON object {records: [1 to ${var.api.max_records} objects, each with a user_id string], request_id (optional)}; see the API's OpenAPI document\", \"request_id\": \"$context.requestId\"}"
    # device tokens: a token the authorizer cannot check because its identity provider cannot be reached is the
    # service's failure, not the caller's: 503, so clients retry (the response's status below)
    AUTHORIZER_CONFIGURATION_ERROR = "{\"error\": \"identity_provider_unavailable\", \"message\": \"the token could not be checked: retry later\", \"request_id\": \"$context.requestId\"}"
  }
  status_code   = each.key == "AUTHORIZER_CONFIGURATION_ERROR" ? "503" : null
  rest_api_id   = aws_api_gateway_rest_api.this.id
  response_type = each.key
  response_parameters = {
    "gatewayresponse.header.Access-Control-Allow-Origin"  = "'${local.static_origin}'"
    "gatewayresponse.header.Access-Control-Allow-Headers" = "'${local.allow_headers}'"
  }
  response_templates = {
    "application/json" = each.value
  }
}

# ---------------------------------------------------------------- deployment, stage, logging

resource "aws_api_gateway_deployment" "this" {
  rest_api_id = aws_api_gateway_rest_api.this.id

  # Redeploy when what the API does changes: configured values only (read-back attributes drift
  # between AWS and the emulator and would redeploy on every plan).
  triggers = {
    redeployment = sha1(jsonencode({
      resources   = [aws_api_gateway_resource.v1.id, aws_api_gateway_resource.models.id, aws_api_gateway_resource.model.id, aws_api_gateway_resource.predictions.id]
      predict     = [aws_api_gateway_method.predict.id, aws_api_gateway_method.predict.api_key_required, aws_api_gateway_method.predict.request_validator_id]
      integration = [aws_api_gateway_integration.predict.id, local.has_function, try(aws_lambda_function.this[0].invoke_arn, null)]
      schema      = aws_api_gateway_model.request.schema
      cors        = [local.origins, local.allow_headers, local.allow_methods, local.cors_template]
      options = { for route, method in aws_api_gateway_method.options : route => [method.id,
      aws_api_gateway_integration.options[route].id, aws_api_gateway_integration_response.options[route].id] }
      responses   = { for k, r in aws_api_gateway_gateway_response.this : k => r.response_templates }
      unavailable = try(aws_api_gateway_integration_response.unavailable[0].id, null)
      devices = local.devices ? [aws_api_gateway_resource.device_predictions[0].id, aws_api_gateway_method.device_predict[0].id,
      aws_api_gateway_integration.device_predict[0].id, aws_api_gateway_authorizer.devices[0].id, var.api.device_tokens.cache_seconds] : []
    }))
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_cloudwatch_log_group" "access" {
  name              = "/aws/apigateway/${var.name_prefix}-predictions"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

# API Gateway creates the stage's execution log group on its first log line otherwise: unencrypted, never
# expiring, and left behind by a destroy. Created here, with the key and the retention, before the stage logs.
# "The log group is named following the API-Gateway-Execution-Logs_{rest-api-id}/{stage_name} format"
# (API Gateway Developer Guide, "Set up CloudWatch logging").
resource "aws_cloudwatch_log_group" "execution" {
  name              = "API-Gateway-Execution-Logs_${aws_api_gateway_rest_api.this.id}/${var.stage_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_api_gateway_stage" "this" {
  #checkov:skip=CKV2_AWS_77:the web ACL is optional (api.waf, on by default for staging and prod) and always carries AWSManagedRulesKnownBadInputsRuleSet, blocking (CKV_AWS_192 passes on it); checkov's graph does not follow the counted association
  rest_api_id          = aws_api_gateway_rest_api.this.id
  deployment_id        = aws_api_gateway_deployment.this.id
  stage_name           = var.stage_name
  xray_tracing_enabled = true

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format = jsonencode({
      requestId      = "$context.requestId"
      requestTime    = "$context.requestTime"
      httpMethod     = "$context.httpMethod"
      resourcePath   = "$context.resourcePath"
      model          = "$context.path"
      status         = "$context.status"
      latencyMs      = "$context.responseLatency"
      integrationMs  = "$context.integrationLatency"
      responseLength = "$context.responseLength"
      apiKeyId       = "$context.identity.apiKeyId"
      sourceIp       = "$context.identity.sourceIp"
      userAgent      = "$context.identity.userAgent"
      error          = "$context.error.message"
    })
  }

  tags = var.tags

  depends_on = [aws_api_gateway_account.this]
}

resource "aws_api_gateway_method_settings" "this" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  stage_name  = aws_api_gateway_stage.this.stage_name
  method_path = "*/*"

  settings {
    metrics_enabled        = true
    logging_level          = "ERROR"
    data_trace_enabled     = false # full requests hold player data: never in logs
    throttling_rate_limit  = var.api.throttle_rate_limit
    throttling_burst_limit = var.api.throttle_burst_limit
  }
}

# API Gateway writes logs through one CloudWatch role per account and region.
data "aws_iam_policy_document" "apigateway_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["apigateway.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "apigateway_logs" {
  count              = var.manage_api_gateway_account ? 1 : 0
  name               = "${var.name_prefix}-apigateway-logs"
  description        = "API Gateway writes the access and execution logs of this account and region"
  assume_role_policy = data.aws_iam_policy_document.apigateway_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "apigateway_logs" {
  statement {
    sid = "WriteApiLogs"
    actions = [
      "logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogGroups", "logs:DescribeLogStreams",
      "logs:PutLogEvents", "logs:GetLogEvents", "logs:FilterLogEvents",
    ]
    # The account role serves every API of the region, whose execution log groups API Gateway names itself.
    resources = [
      "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*",
      "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*:log-stream:*",
    ]
  }
}

resource "aws_iam_role_policy" "apigateway_logs" {
  count  = var.manage_api_gateway_account ? 1 : 0
  name   = "write-api-logs"
  role   = aws_iam_role.apigateway_logs[0].id
  policy = data.aws_iam_policy_document.apigateway_logs.json
}

resource "aws_api_gateway_account" "this" {
  count               = var.manage_api_gateway_account ? 1 : 0
  cloudwatch_role_arn = aws_iam_role.apigateway_logs[0].arn
  # Destroying it would otherwise leave the account pointing at the role destroyed with it, and every API in the
  # region without logs (provider 5.x keeps the setting unless reset_on_delete; 6.0 always resets it).
  reset_on_delete = true
  depends_on      = [aws_iam_role_policy.apigateway_logs]
}

# ---------------------------------------------------------------- API keys and usage plans, one per operator
# Each operator has its own key on its own usage plan (a usage plan's throttle and quota apply per key, and
# each operator may have its own). The Lambda is told which key is whose (VWT_OPERATOR_KEYS) and takes the
# operator from the key API Gateway checked (requestContext.identity.apiKeyId), never from the request body.

resource "aws_api_gateway_api_key" "this" {
  for_each    = var.operators
  name        = "${var.name_prefix}-${each.key}"
  description = "${each.value.name}'s key for the ${var.environment} prediction API"
  enabled     = true
  tags        = merge(var.tags, { "vwt:operator" = each.key })
}

resource "aws_api_gateway_usage_plan" "this" {
  for_each    = var.operators
  name        = "${var.name_prefix}-${each.key}"
  description = "Throttling and quota of ${each.value.name} on the prediction API"

  api_stages {
    api_id = aws_api_gateway_rest_api.this.id
    stage  = aws_api_gateway_stage.this.stage_name
  }

  throttle_settings {
    rate_limit  = each.value.throttle_rate_limit
    burst_limit = each.value.throttle_burst_limit
  }

  quota_settings {
    limit  = each.value.quota_limit
    period = each.value.quota_period
  }

  tags = merge(var.tags, { "vwt:operator" = each.key })
}

resource "aws_api_gateway_usage_plan_key" "this" {
  for_each      = var.operators
  key_id        = aws_api_gateway_api_key.this[each.key].id
  key_type      = "API_KEY"
  usage_plan_id = aws_api_gateway_usage_plan.this[each.key].id
}
