output "kms_key_arn" {
  description = "ARN of the customer-managed KMS key."
  value       = aws_kms_key.this.arn
}

output "kms_key_id" {
  description = "Id of the customer-managed KMS key."
  value       = aws_kms_key.this.key_id
}

output "data_bucket_names" {
  description = "Data bucket key -> bucket name."
  value       = { for key, _ in var.data_buckets : key => aws_s3_bucket.this["data:${key}"].bucket }
}

output "data_bucket_arns" {
  description = "Data bucket key -> bucket ARN."
  value       = { for key, _ in var.data_buckets : key => aws_s3_bucket.this["data:${key}"].arn }
}

output "model_bucket_names" {
  description = "Model name -> model bucket name."
  value       = { for model, _ in var.model_buckets : model => aws_s3_bucket.this["model:${model}"].bucket }
}

output "model_bucket_arns" {
  description = "Model name -> model bucket ARN."
  value       = { for model, _ in var.model_buckets : model => aws_s3_bucket.this["model:${model}"].arn }
}

output "log_bucket_name" {
  description = "Name of the access-log bucket."
  value       = try(aws_s3_bucket.logs.bucket, null)
}

output "results_bucket_name" {
  description = "The batch-scoring results bucket (null when none)."
  value       = var.results_bucket_name == null ? null : aws_s3_bucket.this["results"].bucket
}

output "protected_bucket_names" {
  description = "Buckets guarded against destruction (empty when protect_data is false)."
  value       = var.protect_data ? sort([for b in aws_s3_bucket.this : b.bucket]) : []
}
