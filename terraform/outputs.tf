output "environment" {
  description = "The environment this state belongs to."
  value       = var.environment
}

output "model_names" {
  description = "Models of the catalogue."
  value       = local.model_names
}
