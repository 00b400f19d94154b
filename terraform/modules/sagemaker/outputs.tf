output "role_arn" {
  description = "ARN of the SageMaker execution role (training jobs, tuning jobs, models)."
  value       = aws_iam_role.this.arn
}

output "role_name" {
  description = "Name of the SageMaker execution role."
  value       = aws_iam_role.this.name
}

output "endpoint_names" {
  description = "Model name -> endpoint name (every model; an endpoint exists once the model has an artifact)."
  value       = { for name, m in var.models : name => m.endpoint_name }
}

output "endpoint_arns" {
  description = "Model name -> endpoint ARN, for the models whose endpoint exists."
  value       = { for name, e in aws_sagemaker_endpoint.this : name => try(e.arn, null) }
}

output "endpoint_arn_patterns" {
  description = "ARNs of every model's endpoint (the endpoint need not exist yet): what callers may invoke."
  value       = [for m in values(var.models) : "arn:${local.partition}:sagemaker:${local.region}:${local.account_id}:endpoint/${lower(m.endpoint_name)}"]
}

output "current_model_parameter_names" {
  description = "Model name -> SSM parameter recording the current model."
  value       = { for name, p in aws_ssm_parameter.current_model : name => p.name }
}

output "current_model_parameter_arns" {
  description = "ARNs of the current-model SSM parameters."
  value       = [for p in aws_ssm_parameter.current_model : p.arn]
}

output "variant_name" {
  description = "Production variant name of every endpoint (the pipeline's configurations must keep it for auto scaling)."
  value       = local.variant
}
