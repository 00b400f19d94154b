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

variable "api_name" {
  description = "Name of the prediction REST API (ApiName dimension)."
  type        = string
}

variable "stage_name" {
  description = "Name of the prediction API's stage (Stage dimension)."
  type        = string
}

variable "function_names" {
  description = "Names of the Lambda functions watched for errors and throttles."
  type        = list(string)
  default     = []
}

variable "endpoint_names" {
  description = "Model name -> SageMaker endpoint name."
  type        = map(string)
}

variable "variant_name" {
  description = "Production variant of every endpoint."
  type        = string
  default     = "AllTraffic"
}

variable "state_machine_arns" {
  description = "Model name -> retraining state machine ARN."
  type        = map(string)
}

variable "dead_letter_queue_names" {
  description = "Feed -> dead-letter queue name; a message there raises an alarm."
  type        = map(string)
  default     = {}
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

variable "tags" {
  description = "Tags of every resource of this module."
  type        = map(string)
  default     = {}
}
