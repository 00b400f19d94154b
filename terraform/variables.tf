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
  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region such as eu-west-1."
  }
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
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,22}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-24 lowercase letters, digits or '-', starting with a letter."
  }
}

variable "tags" {
  description = "Tags of every resource: environment, owner, and those of the environment file."
  type        = map(string)
  default     = {}
  validation {
    condition     = alltrue([for k, v in var.tags : length(k) <= 128 && length(v) <= 256])
    error_message = "Tag keys are at most 128 characters and values at most 256."
  }
}

variable "admin_email" {
  description = "E-mail address subscribed to the admin topic (optional)."
  type        = string
  default     = null
  validation {
    condition     = var.admin_email == null || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", coalesce(var.admin_email, "x@y.z")))
    error_message = "admin_email must be an e-mail address."
  }
}

variable "log_retention_days" {
  description = "Retention of every CloudWatch log group, in days."
  type        = number
  default     = 90
  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch Logs retention value (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, ...)."
  }
}

variable "log_bucket_name" {
  description = "Name of the S3 access-log bucket."
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.log_bucket_name))
    error_message = "log_bucket_name must be a valid S3 bucket name."
  }
}

variable "results_bucket_name" {
  description = "The batch-scoring results bucket (a dated file per operator and model, under the operator's prefix)."
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.results_bucket_name))
    error_message = "results_bucket_name must be a valid S3 bucket name (3-63 lowercase letters, digits, '.', '-')."
  }
}

variable "image_repository_name" {
  description = "Name of the ECR repository of the training/serving image (made in Python: Environment.image_repository_name)."
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9]+(?:[._-][a-z0-9]+)*$", var.image_repository_name))
    error_message = "image_repository_name must be a valid ECR repository name (lowercase letters, digits, '.', '_', '-')."
  }
}

variable "data_buckets" {
  description = "Data bucket key (e.g. gambling-behaviour) -> bucket name."
  type        = map(string)
  validation {
    condition     = length(var.data_buckets) > 0
    error_message = "data_buckets must name at least one data bucket."
  }
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
    scoring_expression  = string
    scoring_enabled     = bool
    drift_expression    = string
    drift_enabled       = bool
    drift_threshold     = number
    labeling_mode       = optional(string, "none")
    model_package_group = string
  }))
  validation {
    condition     = length(var.models) > 0 && alltrue([for m in values(var.models) : contains(["classification", "regression", "unsupervised"], m.task) && contains(["train", "tune"], m.schedule_mode)])
    error_message = "models must hold at least one model; task is classification|regression|unsupervised, schedule_mode train|tune."
  }
  validation {
    condition     = alltrue([for m in values(var.models) : can(regex("^(rate\\(\\d+ (minute|minutes|hour|hours|day|days)\\)|cron\\(\\S+ \\S+ \\S+ \\S+ \\S+ \\S+\\))$", m.schedule_expression))])
    error_message = "Every schedule_expression must be rate(N unit) or a six-field cron(...)."
  }
}

variable "api" {
  description = "Prediction API settings: throttling, quota, record limit, CORS origins, the WAF web ACL, the custom domain."
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
    condition     = contains(["DAY", "WEEK", "MONTH"], var.api.quota_period) && var.api.throttle_rate_limit > 0 && var.api.throttle_burst_limit > 0 && var.api.quota_limit > 0
    error_message = "api: quota_period is DAY, WEEK or MONTH; throttle rate, burst and quota limit are positive."
  }
}

variable "operators" {
  description = "The gambling operators, by id: name, contact, and their usage plan's throttle and quota (vwt-deploy fills in the environment's api limits where the catalogue sets none)."
  type = map(object({
    name                 = string
    contact              = string
    throttle_rate_limit  = number
    throttle_burst_limit = number
    quota_limit          = number
    quota_period         = string
  }))
  validation {
    condition     = length(var.operators) > 0 && alltrue([for id, o in var.operators : can(regex("^[a-z][a-z0-9-]{0,30}[a-z0-9]$", id))])
    error_message = "operators needs at least one operator; ids are 2-32 lowercase letters, digits or '-', starting with a letter."
  }
  validation {
    condition     = alltrue([for o in values(var.operators) : contains(["DAY", "WEEK", "MONTH"], o.quota_period) && o.throttle_rate_limit > 0 && o.throttle_burst_limit > 0 && o.quota_limit > 0])
    error_message = "operators: quota_period is DAY, WEEK or MONTH; throttle rate, burst and quota limit are positive."
  }
}

variable "endpoints" {
  description = "SageMaker endpoint sizing and auto scaling."
  type = object({
    instance_type                   = string
    initial_instance_count          = number
    min_capacity                    = number
    max_capacity                    = number
    target_invocations_per_instance = number
    capture_percentage              = optional(number, 0)
  })
  validation {
    condition     = can(regex("^ml\\.[a-z0-9]+\\.[a-z0-9]+$", var.endpoints.instance_type)) && var.endpoints.min_capacity >= 1 && var.endpoints.min_capacity <= var.endpoints.max_capacity
    error_message = "endpoints: instance_type like ml.m5.large; 1 <= min_capacity <= max_capacity."
  }
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
    prediction = optional(object({
      client_errors_per_5min   = optional(number, 25)
      endpoint_errors_per_5min = optional(number, 5)
      publish_errors_per_5min  = optional(number, 1)
      latency_p99_ms           = optional(number, 3000)
    }), {})
  })
  validation {
    condition = alltrue([for k, v in var.alarms : v >= 1 if k != "prediction"]) && alltrue([
      for v in values(var.alarms.prediction) : v >= 1
    ])
    error_message = "Every alarm threshold must be at least 1."
  }
}

# ---- built by vwt-deploy before Terraform runs (Deployment.artifacts()); defaults let validate and plan work without them

variable "lambda_package_path" {
  description = "Path of the Lambda package (zip) built from lambdas/ (predict, pipeline.size, pipeline.label). Null: no functions yet; the API answers 503."
  type        = string
  default     = null
  validation {
    condition     = var.lambda_package_path == null || endswith(coalesce(var.lambda_package_path, "x.zip"), ".zip")
    error_message = "lambda_package_path must name the .zip package built by vwt-deploy."
  }
}

variable "state_machines" {
  description = "Model name -> rendered ASL definition and IAM policy files (Terraform template placeholders allowed). A model without one gets a placeholder definition that fails."
  type = map(object({
    definition_path = string
    policy_path     = string
  }))
  default = {}
  validation {
    condition     = alltrue([for sm in values(var.state_machines) : endswith(sm.definition_path, ".json") && endswith(sm.policy_path, ".json")])
    error_message = "state_machines.<model>.definition_path and policy_path must name the rendered .json files."
  }
}

variable "image_tag" {
  description = "Tag of the training/serving image in the ECR repository (the content hash of containers/sklearn)."
  type        = string
  default     = "latest"
  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag))
    error_message = "image_tag must be a Docker tag: letters, digits, '_', '.', '-' (at most 128)."
  }
}

variable "initial_model_artifacts" {
  description = "Model name -> path of its baseline model.tar.gz, uploaded to the model bucket and served until the first retraining. A model without one gets no endpoint yet."
  type        = map(string)
  default     = {}
  validation {
    condition     = alltrue([for p in values(var.initial_model_artifacts) : endswith(p, ".tar.gz")])
    error_message = "initial_model_artifacts.<model> must name a model.tar.gz file."
  }
}

variable "model_schemas" {
  description = "Model name -> path of its feature schema (schema.json, written by vwt-deploy from the catalogue), uploaded to the model bucket as schema/schema.json: the `schema` channel of every training job."
  type        = map(string)
  default     = {}
  validation {
    condition     = alltrue([for p in values(var.model_schemas) : endswith(p, ".json")])
    error_message = "model_schemas.<model> must name a .json file."
  }
}

variable "allow_data_destroy" {
  description = "Lift the destroy guard of the data and model buckets (and let Terraform empty them). Set only by `vwt-deploy down --destroy-data`."
  type        = bool
  default     = false
}

variable "training" {
  description = "Training sizing table of the pipeline's size function (rows up to max_gb; the last row has none) and the maximum runtime."
  type = object({
    sizing = list(object({
      max_gb         = optional(number)
      instance_type  = string
      instance_count = number
      volume_gb      = number
    }))
    max_runtime_seconds = number
    vpc = optional(object({
      subnet_ids         = list(string)
      security_group_ids = list(string)
    }))
  })
  default = {
    sizing = [
      { max_gb = 1, instance_type = "ml.m5.large", instance_count = 1, volume_gb = 30 },
      { max_gb = 10, instance_type = "ml.m5.4xlarge", instance_count = 1, volume_gb = 64 },
      { max_gb = null, instance_type = "ml.r5.12xlarge", instance_count = 1, volume_gb = 500 },
    ]
    max_runtime_seconds = 3600
  }
  validation {
    condition     = length(var.training.sizing) > 0 && alltrue([for i, row in var.training.sizing : (row.max_gb == null) == (i == length(var.training.sizing) - 1) && row.instance_count >= 1])
    error_message = "training.sizing: every row but the last has max_gb, the last has none; instance_count >= 1."
  }
}

variable "ecr_untagged_expire_days" {
  description = "Days after its push an untagged image expires; tagged images never do (a live model may run one)."
  type        = number
  default     = 7
  validation {
    condition     = var.ecr_untagged_expire_days >= 1 && var.ecr_untagged_expire_days <= 3650
    error_message = "ecr_untagged_expire_days must be between 1 and 3650."
  }
}

variable "manage_api_gateway_account" {
  description = "Set the region's API Gateway CloudWatch role (account-wide) and reset it on destroy; off: the account's own role is used."
  type        = bool
  default     = false
}

variable "approval" {
  description = "How a model version that passed the gate is approved: auto (deployed at once) or manual (waits for a person's approval)."
  type        = string
  default     = "auto"
  validation {
    condition     = contains(["auto", "manual"], var.approval)
    error_message = "approval must be auto or manual."
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

variable "lambda_runtime" {
  description = "The functions' Lambda runtime (locally the emulator's Python, for which packages with libraries are built)."
  type        = string
  default     = "python3.12"
  validation {
    condition     = can(regex("^python3\\.(1[0-9])$", var.lambda_runtime))
    error_message = "lambda_runtime must be python3.10 or newer."
  }
}
