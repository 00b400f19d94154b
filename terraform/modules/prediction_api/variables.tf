variable "name_prefix" {
  description = "Prefix of every resource name, e.g. vwt-prod."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,22}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-24 lowercase letters, digits or '-', starting with a letter."
  }
}

variable "environment" {
  description = "Environment name (local, dev, staging, prod)."
  type        = string
  validation {
    condition     = contains(["local", "dev", "staging", "prod"], var.environment)
    error_message = "environment must be one of local, dev, staging, prod."
  }
}

variable "stage_name" {
  description = "Name of the API stage (the first path segment of the API URL)."
  type        = string
  default     = "live"
  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,128}$", var.stage_name))
    error_message = "stage_name may hold only letters, digits, '_' and '-'."
  }
}

variable "lambda_package_path" {
  description = "Path of the Lambda package (zip) built by vwt-deploy from lambdas/. Null: no function yet, the API answers 503."
  type        = string
  default     = null
  validation {
    condition     = var.lambda_package_path == null || endswith(coalesce(var.lambda_package_path, "x.zip"), ".zip")
    error_message = "lambda_package_path must name a .zip file."
  }
}

variable "lambda_runtime" {
  description = "Python runtime of the prediction function."
  type        = string
  default     = "python3.12"
  validation {
    condition     = can(regex("^python3\\.(1[0-9])$", var.lambda_runtime))
    error_message = "lambda_runtime must be python3.10 or newer."
  }
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions of the prediction function (null: the account's unreserved pool)."
  type        = number
  default     = null
  validation {
    condition     = var.reserved_concurrency == null || coalesce(var.reserved_concurrency, 0) >= 0
    error_message = "reserved_concurrency must be null or at least 0."
  }
}

variable "kms_key_arn" {
  description = "ARN of the KMS key (log group, function environment, encrypted topics)."
  type        = string
  validation {
    condition     = can(regex("^arn:", var.kms_key_arn))
    error_message = "kms_key_arn must be an ARN."
  }
}

variable "endpoint_names" {
  description = "Model name -> SageMaker endpoint name (passed to the function)."
  type        = map(string)
  validation {
    condition     = alltrue([for n in values(var.endpoint_names) : can(regex("^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$", n))])
    error_message = "Every endpoint name must be 1-63 letters, digits or '-' (SageMaker's rule)."
  }
}

variable "endpoint_arns" {
  description = "ARNs of the endpoints the function may invoke (this environment's only)."
  type        = list(string)
  validation {
    condition     = alltrue([for a in var.endpoint_arns : can(regex("^arn:[^:]+:sagemaker:[^:]+:[0-9]*:endpoint/[a-z0-9-]+$", a))])
    error_message = "endpoint_arns must be SageMaker endpoint ARNs."
  }
}

variable "intervention_topic_arn" {
  description = "ARN of the intervention topic the function publishes risk predictions to."
  type        = string
  validation {
    condition     = can(regex("^arn:[^:]+:sns:", var.intervention_topic_arn))
    error_message = "intervention_topic_arn must be an SNS topic ARN."
  }
}

variable "operator_topic_arn" {
  description = "ARN of the operator topic the function publishes operator predictions to."
  type        = string
  validation {
    condition     = can(regex("^arn:[^:]+:sns:", var.operator_topic_arn))
    error_message = "operator_topic_arn must be an SNS topic ARN."
  }
}

variable "current_model_parameter_prefix" {
  description = "SSM path prefix of the current-model parameters (the function reads the serving model's version)."
  type        = string
  validation {
    condition     = can(regex("^/[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$", var.current_model_parameter_prefix))
    error_message = "current_model_parameter_prefix must be an SSM path without a trailing '/'."
  }
}

variable "current_model_parameter_arns" {
  description = "ARNs of the current-model SSM parameters the function may read."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for a in var.current_model_parameter_arns : can(regex("^arn:[^:]+:ssm:[^:]+:[0-9]*:parameter/", a))])
    error_message = "current_model_parameter_arns must be SSM parameter ARNs."
  }
}

variable "operators" {
  description = "Operator id -> its name and its usage plan's throttle (rate, burst) and quota (limit, period)."
  type = map(object({
    name                 = string
    throttle_rate_limit  = number
    throttle_burst_limit = number
    quota_limit          = number
    quota_period         = string
  }))
  validation {
    condition     = length(var.operators) > 0 && alltrue([for id in keys(var.operators) : can(regex("^[a-z][a-z0-9-]{0,30}[a-z0-9]$", id))])
    error_message = "operators needs at least one operator; ids are 2-32 lowercase letters, digits or '-', starting with a letter."
  }
  validation {
    condition     = alltrue([for o in values(var.operators) : contains(["DAY", "WEEK", "MONTH"], o.quota_period) && o.throttle_rate_limit > 0 && o.throttle_burst_limit > 0 && o.quota_limit > 0])
    error_message = "operators: quota_period is DAY, WEEK or MONTH; throttle rate, burst and quota limit are positive."
  }
}

variable "api" {
  description = "Throttling (rate, burst), quota (limit, period), record limit and CORS origins of the API, its WAF (`waf`: `enabled`, `rate_limit`, `rate_window_seconds`, `managed_rule_groups`, `action`) and custom domain (`domain`: `name`, `certificate_arn`, `hosted_zone_id`, or null)."
  type = object({
    throttle_rate_limit  = number
    throttle_burst_limit = number
    quota_limit          = number
    quota_period         = string
    max_records          = number
    cors_allow_origins   = list(string)
    waf = object({
      enabled             = bool
      rate_limit          = number
      rate_window_seconds = number
      managed_rule_groups = list(string)
      action              = string
    })
    domain = object({
      name            = string
      certificate_arn = string
      hosted_zone_id  = string
    })
    device_tokens = object({
      enabled        = bool
      cache_seconds  = number
      leeway_seconds = number
      algorithms     = list(string)
    })
  })
  validation {
    condition     = var.api.domain == null || can(regex("^arn:aws:acm:[a-z0-9-]+:[0-9]{12}:certificate/", var.api.domain.certificate_arn))
    error_message = "api.domain.certificate_arn must be an ACM certificate ARN."
  }
  validation {
    condition     = var.api.waf.rate_limit >= 100 && contains([60, 120, 300, 600], var.api.waf.rate_window_seconds) && contains(["block", "count"], var.api.waf.action) && !contains(var.api.waf.managed_rule_groups, "AWSManagedRulesKnownBadInputsRuleSet")
    error_message = "api.waf: rate_limit is at least 100, rate_window_seconds one of 60, 120, 300, 600, action block or count; AWSManagedRulesKnownBadInputsRuleSet is always on, so it is not listed."
  }
  validation {
    condition     = contains(["DAY", "WEEK", "MONTH"], var.api.quota_period)
    error_message = "api.quota_period must be DAY, WEEK or MONTH."
  }
  validation {
    condition     = var.api.throttle_rate_limit > 0 && var.api.throttle_burst_limit > 0 && var.api.quota_limit > 0
    error_message = "api throttle rate, burst and quota limit must be positive."
  }
  validation {
    condition     = var.api.max_records >= 1 && var.api.max_records <= 10000
    error_message = "api.max_records must be between 1 and 10000."
  }
  validation {
    condition     = length(var.api.cors_allow_origins) > 0 && alltrue([for o in var.api.cors_allow_origins : o == "*" || can(regex("^https?://[^/\\s'\"]+$", o))])
    error_message = "api.cors_allow_origins must list \"*\" or origins such as https://app.example.com (scheme and host, no path)."
  }
}

variable "request_schema" {
  description = "JSON Schema (draft-04) the API validates request bodies with; null: records (1..max_records objects) and an optional request_id."
  type        = string
  default     = null
  validation {
    condition     = var.request_schema == null || can(jsondecode(var.request_schema))
    error_message = "request_schema must be a JSON document."
  }
}

variable "manage_api_gateway_account" {
  description = "Set the region's API Gateway account CloudWatch role (account-wide; needed once per account and region for API logging), and reset it on destroy."
  type        = bool
  default     = false
}

variable "application_principal_arns" {
  description = "Principals that may assume the application role (empty: any principal of this account allowed to assume it)."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for a in var.application_principal_arns : can(regex("^arn:[^:]+:(iam|sts)::[0-9]{12}:", a))])
    error_message = "application_principal_arns must be IAM principal ARNs."
  }
}

variable "log_retention_days" {
  description = "Retention of the function's and the API's log groups, in days."
  type        = number
  default     = 90
  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch Logs retention value (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, ...)."
  }
}

variable "tags" {
  description = "Tags of every resource of this module."
  type        = map(string)
  default     = {}
  validation {
    condition     = alltrue([for k, v in var.tags : length(k) >= 1 && length(k) <= 128 && length(v) <= 256])
    error_message = "Tag keys are 1-128 characters and values at most 256."
  }
}

variable "authorizer_package_path" {
  description = "Path of the device-token authorizer's package (zip, with its libraries) built by vwt-deploy when api.device_tokens is enabled; null: no device route."
  type        = string
  default     = null
  validation {
    condition     = var.authorizer_package_path == null || endswith(coalesce(var.authorizer_package_path, "x.zip"), ".zip")
    error_message = "authorizer_package_path must name a .zip file."
  }
}

variable "device_identities" {
  description = "Per operator id, the identity provider its players' devices get their tokens from: issuer, jwks_url, audience, player_claim."
  type = map(object({
    issuer       = string
    jwks_url     = string
    audience     = string
    player_claim = string
  }))
  default = {}
  validation {
    condition     = alltrue([for i in values(var.device_identities) : can(regex("^https?://", i.issuer)) && can(regex("^https?://", i.jwks_url))])
    error_message = "device_identities: issuer and jwks_url are URLs."
  }
}
