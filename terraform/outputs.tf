output "environment" {
  description = "The environment this state belongs to."
  value       = var.environment
}

output "model_names" {
  description = "Models of the catalogue."
  value       = local.model_names
}

output "waf_web_acl_name" {
  description = "The WAF web ACL in front of the prediction API (api.waf); null without one."
  value       = module.prediction_api.waf_web_acl_name
}

output "api_domain_url" {
  description = "The prediction API at its custom domain (api.domain); null without one."
  value       = module.prediction_api.domain_url
}

output "api_domain_target" {
  description = "Where the custom domain's DNS record points (made in the hosted zone when api.domain names one); null without one."
  value       = module.prediction_api.domain_target
}

output "api_url" {
  description = "Base URL of the prediction API; POST <api_url>/v1/models/<model>/predictions with header x-api-key."
  value       = module.prediction_api.api_url
}

output "api_key_ids" {
  description = "Operator id -> id of its API key (the value: GetApiKey with includeValue)."
  value       = module.prediction_api.api_key_ids
}

output "data_bucket_names" {
  description = "Data bucket key -> bucket name."
  value       = module.storage.data_bucket_names
}

output "model_bucket_names" {
  description = "Model name -> model bucket name."
  value       = module.storage.model_bucket_names
}

output "results_bucket_name" {
  description = "Batch scoring's results: <operator>/<model>/<date>.csv."
  value       = module.storage.results_bucket_name
}

output "log_bucket_name" {
  description = "The S3 access-log bucket."
  value       = module.storage.log_bucket_name
}

output "protected_bucket_names" {
  description = "Buckets the destroy guard protects (empty for local or after allow_data_destroy)."
  value       = module.storage.protected_bucket_names
}

output "kms_key_arn" {
  description = "The environment's customer-managed KMS key."
  value       = module.storage.kms_key_arn
}

output "endpoint_names" {
  description = "Model name -> SageMaker endpoint name."
  value       = module.sagemaker.endpoint_names
}

output "endpoints_deployed" {
  description = "Models whose endpoint exists (those with an initial artifact, or deployed since)."
  value       = sort(keys(module.sagemaker.endpoint_arns))
}

output "sagemaker_role_arn" {
  description = "The SageMaker execution role (training, tuning, models)."
  value       = module.sagemaker.role_arn
}

output "current_model_parameter_names" {
  description = "Model name -> SSM parameter recording its current model."
  value       = module.sagemaker.current_model_parameter_names
}

output "state_machine_arns" {
  description = "Model name -> ARN of its retraining state machine."
  value       = module.retraining.state_machine_arns
}

output "model_package_groups" {
  description = "Model name -> its model package group (the model registry)."
  value       = module.retraining.model_package_groups
}

output "placeholder_state_machines" {
  description = "Models whose state machine still runs the placeholder definition."
  value       = module.retraining.placeholder_models
}

output "ecr_repository_url" {
  description = "URL of the training/serving image repository (without tag)."
  value       = module.registry.repository_url
}

output "image_uri" {
  description = "The image the endpoints and training jobs use."
  value       = local.image_uri
}

output "admin_topic_arn" {
  description = "The admin topic (alarms, pipeline reports)."
  value       = module.monitoring.admin_topic_arn
}

output "intervention_topic_arn" {
  description = "The intervention topic (risk predictions)."
  value       = module.consumers.intervention_topic_arn
}

output "intervention_queue_url" {
  description = "The intervention queue the intervention model reads."
  value       = module.consumers.intervention_queue_url
}

output "operator_topic_arn" {
  description = "The operator delivery point (topic)."
  value       = module.consumers.operator_topic_arn
}

output "operator_queue_urls" {
  description = "Operator id -> its queue of prediction events (only its own players')."
  value       = module.consumers.operator_queue_urls
}

output "lambda_function_names" {
  description = "predict/size/label/score-check/score-publish/drift -> function name (empty until the package is given)."
  value = merge(
    module.prediction_api.function_name == null ? {} : { predict = module.prediction_api.function_name },
    module.retraining.function_names,
  )
}

output "application_role_arn" {
  description = "The application's role (lambda:InvokeFunction and lambda:GetFunctionConfiguration on the prediction function)."
  value       = module.prediction_api.application_role_arn
}

output "dashboard_name" {
  description = "The CloudWatch dashboard."
  value       = module.monitoring.dashboard_name
}
