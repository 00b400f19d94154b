variable "name_prefix" {
  description = "Prefix of every resource name, e.g. vwt-prod."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,22}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-24 lowercase letters, digits or '-', starting with a letter."
  }
}

variable "data_buckets" {
  description = "Data bucket key (e.g. gambling-behaviour) -> bucket name."
  type        = map(string)
  validation {
    condition     = alltrue([for n in values(var.data_buckets) : can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", n))])
    error_message = "Every data bucket name must be a valid S3 bucket name (3-63 lowercase letters, digits, '.', '-')."
  }
}

variable "model_buckets" {
  description = "Model name -> model bucket name (one bucket per model)."
  type        = map(string)
  validation {
    condition     = alltrue([for n in values(var.model_buckets) : can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", n))])
    error_message = "Every model bucket name must be a valid S3 bucket name (3-63 lowercase letters, digits, '.', '-')."
  }
}

variable "results_bucket_name" {
  description = "Name of the bucket batch scoring writes its results to (a dated file per operator and model, under the operator's prefix); null: none."
  type        = string
  default     = null
  validation {
    condition     = var.results_bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.results_bucket_name))
    error_message = "results_bucket_name must be a valid S3 bucket name (3-63 lowercase letters, digits, '.', '-')."
  }
}

variable "log_bucket_name" {
  description = "Name of the S3 server access-log bucket."
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.log_bucket_name))
    error_message = "log_bucket_name must be a valid S3 bucket name."
  }
}

variable "protect_data" {
  description = "Guard the data and model buckets against destruction (true for dev/staging/prod). See README: the destroy guard."
  type        = bool
  default     = true
}

variable "force_destroy" {
  description = "Let Terraform empty the buckets when it destroys them (only for local, or when the data is to be destroyed on purpose)."
  type        = bool
  default     = false
}

variable "noncurrent_version_days" {
  description = "Days a non-current object version is kept before it expires."
  type        = number
  default     = 90
  validation {
    condition     = var.noncurrent_version_days >= 1
    error_message = "noncurrent_version_days must be at least 1."
  }
}

variable "access_log_days" {
  description = "Days an S3 server access log object is kept."
  type        = number
  default     = 365
  validation {
    condition     = var.access_log_days >= 1
    error_message = "access_log_days must be at least 1."
  }
}

variable "kms_deletion_window_days" {
  description = "Waiting period before the KMS key is deleted after it is scheduled for deletion."
  type        = number
  default     = 30
  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30
    error_message = "kms_deletion_window_days must be between 7 and 30."
  }
}

variable "require_tls" {
  description = "Deny S3 requests over plain HTTP or TLS < 1.2 with bucket policies (keep it on: the local emulator evaluates these statements as an HTTPS request)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags of every resource of this module (merged over the provider's default tags)."
  type        = map(string)
  default     = {}
  validation {
    condition     = alltrue([for k, v in var.tags : length(k) >= 1 && length(k) <= 128 && length(v) <= 256])
    error_message = "Tag keys are 1-128 characters and values at most 256."
  }
}
