variable "name_prefix" {
  description = "Prefix of every resource name, e.g. vwt-prod."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,22}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-24 lowercase letters, digits or '-', starting with a letter."
  }
}

variable "kms_key_arn" {
  description = "ARN of the KMS key of the admin topic."
  type        = string
  validation {
    condition     = can(regex("^arn:", var.kms_key_arn))
    error_message = "kms_key_arn must be an ARN."
  }
}

variable "admin_email" {
  description = "E-mail address subscribed to the admin topic (null: no subscription)."
  type        = string
  default     = null
  validation {
    condition     = var.admin_email == null || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", coalesce(var.admin_email, "x@y.z")))
    error_message = "admin_email must be an e-mail address."
  }
}

variable "environment" {
  description = "Environment name: the Environment dimension of the prediction Lambda's metrics (its VWT_ENVIRONMENT)."
  type        = string
  validation {
    condition     = contains(["local", "dev", "staging", "prod"], var.environment)
    error_message = "environment must be one of local, dev, staging, prod."
  }
}

variable "api_name" {
  description = "Name of the prediction REST API (ApiName dimension)."
  type        = string
  validation {
    condition     = length(var.api_name) >= 1 && length(var.api_name) <= 1024
    error_message = "api_name must not be empty."
  }
}

variable "stage_name" {
  description = "Name of the prediction API's stage (Stage dimension)."
  type        = string
  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,128}$", var.stage_name))
    error_message = "stage_name may hold only letters, digits, '_' and '-'."
  }
}

variable "waf_web_acl_name" {
  description = "Name of the WAF web ACL in front of the API (WebACL dimension of AWS/WAFV2); null without one."
  type        = string
  default     = null
  validation {
    condition     = var.waf_web_acl_name == null || can(regex("^[A-Za-z0-9_-]{1,128}$", var.waf_web_acl_name))
    error_message = "waf_web_acl_name is a web ACL name: 1 to 128 letters, digits, '_' and '-'."
  }
}

variable "function_names" {
  description = "Names of the Lambda functions watched for errors and throttles."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for n in var.function_names : n == null || can(regex("^[A-Za-z0-9_-]{1,64}$", coalesce(n, "x")))])
    error_message = "function_names must be Lambda function names (1-64 letters, digits, '-', '_')."
  }
}

variable "endpoint_names" {
  description = "Model name -> SageMaker endpoint name."
  type        = map(string)
  validation {
    condition     = alltrue([for n in values(var.endpoint_names) : can(regex("^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$", n))])
    error_message = "Every endpoint name must be 1-63 letters, digits or '-' (SageMaker's rule)."
  }
}

variable "variant_name" {
  description = "Production variant of every endpoint."
  type        = string
  default     = "AllTraffic"
  validation {
    condition     = can(regex("^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$", var.variant_name))
    error_message = "variant_name must be a SageMaker variant name."
  }
}

variable "state_machine_arns" {
  description = "Model name -> retraining state machine ARN."
  type        = map(string)
  validation {
    condition     = alltrue([for a in values(var.state_machine_arns) : can(regex("^arn:[^:]+:states:", a))])
    error_message = "state_machine_arns must be Step Functions state machine ARNs."
  }
}

variable "dead_letter_queue_names" {
  description = "Feed -> dead-letter queue name; a message there raises an alarm."
  type        = map(string)
  default     = {}
  validation {
    condition     = alltrue([for n in values(var.dead_letter_queue_names) : can(regex("^[A-Za-z0-9_-]{1,80}$", n))])
    error_message = "dead_letter_queue_names must be SQS queue names."
  }
}

variable "alarms" {
  description = "Alarm thresholds: API 5XX per 5 min, API p99 latency (ms), Lambda errors and throttles per 5 min, endpoint errors per 5 min, model p99 latency (ms)."
  type = object({
    api_5xx_per_5min          = number
    api_latency_p99_ms        = number
    lambda_errors_per_5min    = number
    lambda_throttles_per_5min = number
    endpoint_errors_per_5min  = number
    model_latency_p99_ms      = number
  })
  validation {
    condition     = alltrue([for v in values(var.alarms) : v >= 1])
    error_message = "Every alarm threshold must be at least 1."
  }
}

variable "prediction_alarms" {
  description = "Thresholds of the alarms on the prediction Lambda's metrics (VWT/Prediction, per model): rejected requests, endpoint failures and publish failures per 5 min, p99 latency (ms)."
  type = object({
    client_errors_per_5min   = optional(number, 25)
    endpoint_errors_per_5min = optional(number, 5)
    publish_errors_per_5min  = optional(number, 1)
    latency_p99_ms           = optional(number, 3000)
  })
  default = {}
  validation {
    condition     = alltrue([for v in values(var.prediction_alarms) : v >= 1])
    error_message = "Every prediction alarm threshold must be at least 1."
  }
}

variable "drift_thresholds" {
  description = "Model name -> the largest feature population stability index (VWT/Drift MaxFeaturePSI) at or above which its drift alarm fires."
  type        = map(number)
  default     = {}
  validation {
    condition     = alltrue([for v in values(var.drift_thresholds) : v > 0])
    error_message = "Every drift threshold must be positive."
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
