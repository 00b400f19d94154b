# Every value is written by vwt-deploy from environments/<env>.yaml and the
# model catalogue (.vwt/envs/<env>/terraform.tfvars.json); see README.md.

variable "environment" {
  description = "Environment name."
  type        = string
  validation {
    condition     = contains(["local", "dev", "staging", "prod"], var.environment)
    error_message = "environment must be one of local, dev, staging, prod."
  }
}

variable "region" {
  description = "AWS region of every resource."
  type        = string
}

variable "allowed_account_ids" {
  description = "AWS account ids this environment may touch (empty only for local)."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for id in var.allowed_account_ids : can(regex("^[0-9]{12}$", id))])
    error_message = "Account ids are 12 digits."
  }
}

variable "name_prefix" {
  description = "Prefix of every resource name, e.g. vwt-prod."
  type        = string
}

variable "tags" {
  description = "Tags of every resource: environment, owner, and those of the environment file."
  type        = map(string)
  default     = {}
}

variable "admin_email" {
  description = "E-mail address subscribed to the admin topic (optional)."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Retention of every CloudWatch log group, in days."
  type        = number
  default     = 90
}

variable "log_bucket_name" {
  description = "Name of the S3 access-log bucket."
  type        = string
}

variable "data_buckets" {
  description = "Data bucket key (e.g. gambling-behaviour) -> bucket name."
  type        = map(string)
}

variable "models" {
  description = "Model name -> what Terraform needs of it (buckets, endpoint, schedule)."
  type = map(object({
    task                = string
    data_bucket         = string
    data_bucket_name    = string
    data_prefix         = string
    model_bucket_name   = string
    endpoint_name       = string
    schedule_expression = string
    schedule_mode       = string
    schedule_enabled    = bool
  }))
}

variable "api" {
  description = "Prediction API settings: throttling, quota, record limit, CORS origins."
  type = object({
    throttle_rate_limit  = number
    throttle_burst_limit = number
    quota_limit          = number
    quota_period         = string
    max_records          = number
    cors_allow_origins   = list(string)
  })
}

variable "endpoints" {
  description = "SageMaker endpoint sizing and auto scaling."
  type = object({
    instance_type                   = string
    initial_instance_count          = number
    min_capacity                    = number
    max_capacity                    = number
    target_invocations_per_instance = number
  })
}

variable "alarms" {
  description = "CloudWatch alarm thresholds."
  type = object({
    api_5xx_per_5min          = number
    api_latency_p99_ms        = number
    lambda_errors_per_5min    = number
    lambda_throttles_per_5min = number
    endpoint_errors_per_5min  = number
    model_latency_p99_ms      = number
  })
}
