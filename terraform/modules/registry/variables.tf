variable "repository_name" {
  description = "Name of the ECR repository of the training/serving image."
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$", var.repository_name)) && length(var.repository_name) <= 256
    error_message = "repository_name must be a valid ECR repository name (lowercase, digits, '.', '_', '-', '/')."
  }
}

variable "kms_key_arn" {
  description = "ARN of the KMS key that encrypts the images."
  type        = string
  validation {
    condition     = can(regex("^arn:", var.kms_key_arn))
    error_message = "kms_key_arn must be an ARN."
  }
}

variable "untagged_expire_days" {
  description = "Days after its push an untagged image expires (tagged images never expire: a live model may run one)."
  type        = number
  default     = 7
  validation {
    condition     = var.untagged_expire_days >= 1 && var.untagged_expire_days <= 3650
    error_message = "untagged_expire_days must be between 1 and 3650."
  }
}

variable "force_delete" {
  description = "Delete the repository with its images on destroy (they are build outputs of the repository's code)."
  type        = bool
  default     = true
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
