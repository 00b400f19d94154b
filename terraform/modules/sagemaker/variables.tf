variable "name_prefix" {
  description = "Prefix of every resource name, e.g. vwt-prod."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,22}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-24 lowercase letters, digits or '-', starting with a letter."
  }
}

variable "models" {
  description = "Model name -> its endpoint name, data bucket and prefix, and model bucket."
  type = map(object({
    endpoint_name     = string
    data_bucket_name  = string
    data_prefix       = string
    model_bucket_name = string
  }))
  validation {
    condition     = alltrue([for m in values(var.models) : can(regex("^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$", m.endpoint_name))])
    error_message = "Every endpoint_name must be 1-63 letters, digits or '-' (SageMaker's rule)."
  }
}

variable "initial_model_artifacts" {
  description = "Model name -> local path of its initial model.tar.gz (the baseline). A model without one gets no endpoint until it has one."
  type        = map(string)
  default     = {}
  validation {
    condition     = alltrue([for p in values(var.initial_model_artifacts) : endswith(p, ".tar.gz")])
    error_message = "Every initial model artifact must be a .tar.gz file (SageMaker's model format)."
  }
}

variable "model_schemas" {
  description = "Model name -> local path of its feature schema (schema.json), uploaded to the model bucket as schema/schema.json for the training jobs' `schema` channel."
  type        = map(string)
  default     = {}
  validation {
    condition     = alltrue([for p in values(var.model_schemas) : endswith(p, ".json")])
    error_message = "Every model schema must be a .json file."
  }
}

variable "image_uri" {
  description = "URI of the training/serving image (repository URL + ':' + tag)."
  type        = string
  validation {
    condition     = can(regex("^[^:@\\s]+(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$", var.image_uri))
    error_message = "image_uri must be <repository url>:<tag>."
  }
}

variable "repository_arn" {
  description = "ARN of the ECR repository the role may pull from."
  type        = string
  validation {
    condition     = can(regex("^arn:[^:]+:ecr:", var.repository_arn))
    error_message = "repository_arn must be an ECR repository ARN."
  }
}

variable "kms_key_arn" {
  description = "ARN of the KMS key of the buckets, volumes and endpoints."
  type        = string
  validation {
    condition     = can(regex("^arn:", var.kms_key_arn))
    error_message = "kms_key_arn must be an ARN."
  }
}

variable "vpc" {
  description = "Private subnets and security groups the training jobs and models run in (null: no VPC)."
  type = object({
    subnet_ids         = list(string)
    security_group_ids = list(string)
  })
  default = null
  validation {
    condition = var.vpc == null || (length(try(var.vpc.subnet_ids, [])) > 0 && length(try(var.vpc.security_group_ids, [])) > 0
      && alltrue([for s in try(var.vpc.subnet_ids, []) : can(regex("^subnet-[0-9a-f]{8,17}$", s))])
    && alltrue([for g in try(var.vpc.security_group_ids, []) : can(regex("^sg-[0-9a-f]{8,17}$", g))]))
    error_message = "vpc needs at least one subnet id (subnet-...) and one security group id (sg-...)."
  }
}

variable "automated_labeling" {
  description = "Some model labels with Ground Truth: its labelling jobs run as this role (and log to /aws/sagemaker/LabelingJobs), and automated labelling starts training and transform jobs with it."
  type        = bool
  default     = false
}

variable "log_retention_days" {
  description = "Retention of the endpoints' log groups, in days."
  type        = number
  default     = 90
  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch Logs retention value (1, 3, 5, 7, 14, 30, 60, 90, ...)."
  }
}

variable "endpoint" {
  description = "Endpoint sizing and auto scaling (min/max capacity, target invocations per instance)."
  type = object({
    instance_type                   = string
    initial_instance_count          = number
    min_capacity                    = number
    max_capacity                    = number
    target_invocations_per_instance = number
    capture_percentage              = optional(number, 0) # data capture of requests and answers; 0: off
  })
  validation {
    condition     = can(regex("^ml\\.[a-z0-9]+\\.[a-z0-9]+$", var.endpoint.instance_type))
    error_message = "endpoint.instance_type must be a SageMaker instance type such as ml.m5.large."
  }
  validation {
    condition     = var.endpoint.min_capacity >= 1 && var.endpoint.min_capacity <= var.endpoint.max_capacity
    error_message = "endpoint.min_capacity must be at least 1 and at most max_capacity."
  }
  validation {
    condition     = var.endpoint.initial_instance_count >= 1 && var.endpoint.target_invocations_per_instance > 0
    error_message = "endpoint.initial_instance_count must be at least 1 and target_invocations_per_instance positive."
  }
}

variable "rollback_alarm_names" {
  description = "Model name -> CloudWatch alarms that roll a blue/green endpoint update back."
  type        = map(list(string))
  default     = {}
  validation {
    condition     = alltrue([for names in values(var.rollback_alarm_names) : length(names) <= 10])
    error_message = "SageMaker takes at most 10 rollback alarms per endpoint."
  }
}

variable "bake_seconds" {
  description = "Blue/green baking period: how long the new fleet serves all traffic, watched by the alarms, before the old one is terminated."
  type        = number
  default     = 300
  validation {
    condition     = var.bake_seconds >= 0 && var.bake_seconds <= 3600
    error_message = "bake_seconds must be between 0 and 3600."
  }
}

variable "current_model_parameter_prefix" {
  description = "SSM parameter path prefix; the current model of <model> is recorded at <prefix>/<model>."
  type        = string
  validation {
    condition     = can(regex("^/[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$", var.current_model_parameter_prefix))
    error_message = "current_model_parameter_prefix must be an SSM path such as /vwt-dev/current-model (no trailing '/')."
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
