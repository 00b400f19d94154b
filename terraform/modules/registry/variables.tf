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

variable "keep_images" {
  description = "How many images the lifecycle policy keeps (the newest); older ones expire."
  type        = number
  default     = 20
  validation {
    condition     = var.keep_images >= 1 && var.keep_images <= 1000
    error_message = "keep_images must be between 1 and 1000."
  }
}

variable "force_delete" {
  description = "Delete the repository even if it holds images (only for local)."
  type        = bool
  default     = false
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
