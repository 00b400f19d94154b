variable "name_prefix" {
  description = "Prefix of every resource name, e.g. vwt-prod."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,22}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-24 lowercase letters, digits or '-', starting with a letter."
  }
}

variable "kms_key_arn" {
  description = "ARN of the KMS key of the topics and queues."
  type        = string
  validation {
    condition     = can(regex("^arn:", var.kms_key_arn))
    error_message = "kms_key_arn must be an ARN."
  }
}

variable "operators" {
  description = "Operator id -> anything (its name): each gets its own queue of the operator topic's events."
  type        = map(any)
  validation {
    condition     = length(var.operators) > 0 && alltrue([for id in keys(var.operators) : can(regex("^[a-z][a-z0-9-]{0,30}[a-z0-9]$", id))])
    error_message = "operators needs at least one operator; ids are 2-32 lowercase letters, digits or '-', starting with a letter."
  }
}

variable "max_receive_count" {
  description = "Deliveries of a message before it moves to the dead-letter queue."
  type        = number
  default     = 5
  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000
    error_message = "max_receive_count must be between 1 and 1000."
  }
}

variable "message_retention_seconds" {
  description = "How long a queue keeps an undelivered message (the dead-letter queues keep theirs 14 days)."
  type        = number
  default     = 345600
  validation {
    condition     = var.message_retention_seconds >= 60 && var.message_retention_seconds <= 1209600
    error_message = "message_retention_seconds must be between 60 and 1209600 (14 days)."
  }
}

variable "visibility_timeout_seconds" {
  description = "How long a received message stays hidden from other consumers."
  type        = number
  default     = 60
  validation {
    condition     = var.visibility_timeout_seconds >= 0 && var.visibility_timeout_seconds <= 43200
    error_message = "visibility_timeout_seconds must be between 0 and 43200."
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
