output "state_machine_arns" {
  description = "Model name -> ARN of its retraining state machine."
  value       = { for model, sm in aws_sfn_state_machine.this : model => sm.arn }
}

output "state_machine_names" {
  description = "Model name -> name of its retraining state machine."
  value       = { for model, sm in aws_sfn_state_machine.this : model => sm.name }
}

output "state_machine_role_arns" {
  description = "Model name -> ARN of its state machine's role."
  value       = { for model, r in aws_iam_role.state_machine : model => r.arn }
}

output "schedule_rule_names" {
  description = "Model name -> name of its EventBridge schedule rule."
  value       = { for model, r in aws_cloudwatch_event_rule.schedule : model => r.name }
}

output "placeholder_models" {
  description = "Models whose state machine still runs the placeholder definition (no rendered pipeline given)."
  value       = sort([for model, _ in var.models : model if !contains(keys(var.state_machines), model)])
}

output "function_names" {
  description = "size/label/score-check/score-publish -> name of the pipeline function (empty until a package is given)."
  value       = { for k, f in aws_lambda_function.this : k => try(f.function_name, null) }
}

output "function_arns" {
  description = "size/label/score-check/score-publish -> ARN of the pipeline function (as the rendered definitions reference it)."
  value       = { for k, f in local.functions : k => "${local.function_arn}:${f.name}" }
}

output "model_package_groups" {
  description = "Model name -> its model package group (the model registry)."
  value       = { for name, g in aws_sagemaker_model_package_group.this : name => g.model_package_group_name }
}

output "runs_table_name" {
  description = "The DynamoDB table naming, per model, the run that last claimed its endpoint (one run at a time)."
  value       = aws_dynamodb_table.runs.name
}
