variable "name_prefix" {
  description = "Prefix of every resource name, e.g. vwt-prod."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,22}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-24 lowercase letters, digits or '-', starting with a letter."
  }
}

variable "models" {
  description = "Model name -> its retraining schedule (EventBridge expression, mode train|tune, enabled), its batch-scoring schedule (expression, enabled) and its model package group."
  type = map(object({
    schedule_expression = string
    schedule_mode       = string
    schedule_enabled    = bool
    scoring_expression  = string
    scoring_enabled     = bool
    drift_expression    = string
    drift_enabled       = bool
    model_package_group = string
  }))
  validation {
    condition     = alltrue([for m in values(var.models) : can(regex("^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$", m.model_package_group))])
    error_message = "Every model_package_group must be 1-63 letters, digits or '-' (SageMaker's rule)."
  }
  validation {
    condition     = alltrue([for m in values(var.models) : can(regex("^(rate\\(\\d+ (minute|minutes|hour|hours|day|days)\\)|cron\\(\\S+ \\S+ \\S+ \\S+ \\S+ \\S+\\))$", m.schedule_expression)) && can(regex("^(rate\\(\\d+ (minute|minutes|hour|hours|day|days)\\)|cron\\(\\S+ \\S+ \\S+ \\S+ \\S+ \\S+\\))$", m.scoring_expression)) && can(regex("^(rate\\(\\d+ (minute|minutes|hour|hours|day|days)\\)|cron\\(\\S+ \\S+ \\S+ \\S+ \\S+ \\S+\\))$", m.drift_expression))])
    error_message = "Every schedule_expression, scoring_expression and drift_expression must be rate(N unit) or a six-field cron(...)."
  }
  validation {
    condition     = alltrue([for m in values(var.models) : contains(["train", "tune"], m.schedule_mode)])
    error_message = "Every schedule_mode must be train or tune."
  }
}

variable "state_machines" {
  description = "Model name -> rendered ASL definition and IAM policy (files with Terraform template placeholders). A model without one gets a placeholder that fails."
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

variable "template_vars" {
  description = "Values the rendered definitions and policies may reference (account_id, region, ...; see README)."
  type = object({
    account_id                     = string
    region                         = string
    name_prefix                    = string
    sagemaker_role_arn             = string
    image_uri                      = string
    kms_key_arn                    = string
    admin_topic_arn                = string
    current_model_parameter_prefix = string
  })
  validation {
    condition     = can(regex("^[0-9]{12}$", var.template_vars.account_id)) && can(regex("^arn:", var.template_vars.sagemaker_role_arn)) && can(regex("^/", var.template_vars.current_model_parameter_prefix))
    error_message = "template_vars: account_id is 12 digits, sagemaker_role_arn an ARN, current_model_parameter_prefix an SSM path."
  }
}

variable "lambda_package_path" {
  description = "Path of the Lambda package (zip) with pipeline.size and pipeline.label. Null: no pipeline functions yet."
  type        = string
  default     = null
  validation {
    condition     = var.lambda_package_path == null || endswith(coalesce(var.lambda_package_path, "x.zip"), ".zip")
    error_message = "lambda_package_path must name a .zip file."
  }
}

variable "lambda_runtime" {
  description = "Python runtime of the pipeline functions."
  type        = string
  default     = "python3.12"
  validation {
    condition     = can(regex("^python3\\.(1[0-9])$", var.lambda_runtime))
    error_message = "lambda_runtime must be python3.10 or newer."
  }
}

variable "data_bucket_names" {
  description = "Names of the data buckets the pipeline functions read (size counts rows, label copies them)."
  type        = list(string)
  validation {
    condition     = length(var.data_bucket_names) > 0 && alltrue([for n in var.data_bucket_names : can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", n))])
    error_message = "data_bucket_names must list at least one valid S3 bucket name."
  }
}

variable "model_bucket_names" {
  description = "The model buckets, one per model: the label function writes each model's labelled copy there."
  type        = list(string)
  validation {
    condition     = alltrue([for n in var.model_bucket_names : can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", n))])
    error_message = "model_bucket_names must be valid S3 bucket names."
  }
}

variable "scoring" {
  description = "What batch scoring's publish function needs: the environment's name, the topics it publishes the events to, and the results bucket."
  type = object({
    environment            = string
    intervention_topic_arn = string
    operator_topic_arn     = string
    results_bucket_name    = string
  })
  validation {
    condition     = can(regex("^arn:", var.scoring.intervention_topic_arn)) && can(regex("^arn:", var.scoring.operator_topic_arn)) && can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.scoring.results_bucket_name))
    error_message = "scoring needs the two topics' ARNs and a valid results bucket name."
  }
}

variable "training_sizing" {
  description = "Rows of the size function's table: up to max_gb (null for the last row) -> instance type, count, volume."
  type = list(object({
    max_gb         = optional(number)
    instance_type  = string
    instance_count = number
    volume_gb      = number
  }))
  default = []
  validation {
    condition     = alltrue([for i, row in var.training_sizing : (row.max_gb == null) == (i == length(var.training_sizing) - 1) && row.instance_count >= 1 && can(regex("^ml\\.[a-z0-9]+\\.[a-z0-9]+$", row.instance_type))])
    error_message = "training_sizing: every row but the last has max_gb, the last none; instance types like ml.m5.large; instance_count >= 1."
  }
}

variable "kms_key_arn" {
  description = "ARN of the KMS key (log groups, function environments, data)."
  type        = string
  validation {
    condition     = can(regex("^arn:", var.kms_key_arn))
    error_message = "kms_key_arn must be an ARN."
  }
}

variable "log_retention_days" {
  description = "Retention of the pipeline's log groups, in days."
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

variable "approval" {
  description = "How a model version that passed the gate is approved: auto (the pipeline deploys it) or manual (it waits as PendingManualApproval; a person's approval starts its deployment through the registry's state-change event)."
  type        = string
  default     = "auto"
  validation {
    condition     = contains(["auto", "manual"], var.approval)
    error_message = "approval must be auto or manual."
  }
}
