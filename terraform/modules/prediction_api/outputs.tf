output "api_url" {
  description = "Base URL of the API stage; predictions are POSTed to <api_url>/v1/models/<model>/predictions."
  value       = aws_api_gateway_stage.this.invoke_url
}

output "api_id" {
  description = "Id of the REST API."
  value       = aws_api_gateway_rest_api.this.id
}

output "api_name" {
  description = "Name of the REST API (the ApiName dimension of its metrics)."
  value       = aws_api_gateway_rest_api.this.name
}

output "stage_name" {
  description = "Name of the API stage."
  value       = aws_api_gateway_stage.this.stage_name
}

output "api_key_ids" {
  description = "Operator id -> id of its API key (the value: `aws apigateway get-api-key --include-value`)."
  value       = { for id, key in aws_api_gateway_api_key.this : id => key.id }
}

output "function_name" {
  description = "Name of the prediction function (null until a package is given)."
  value       = try(aws_lambda_function.this[0].function_name, null)
}

output "function_arn" {
  description = "ARN of the prediction function (null until a package is given)."
  value       = try(aws_lambda_function.this[0].arn, null)
}

output "lambda_role_arn" {
  description = "ARN of the prediction function's role."
  value       = aws_iam_role.lambda.arn
}

output "application_role_arn" {
  description = "ARN of the application role (lambda:InvokeFunction and lambda:GetFunctionConfiguration on the function)."
  value       = aws_iam_role.application.arn
}

output "access_log_group_name" {
  description = "Log group of the API's access logs."
  value       = aws_cloudwatch_log_group.access.name
}

output "waf_web_acl_name" {
  description = "Name of the WAF web ACL in front of the stage (the WebACL dimension of its metrics); null without one."
  value       = one(aws_wafv2_web_acl.api[*].name)
}

output "domain_url" {
  description = "https://<api.domain.name>, where the stage is mapped at the custom domain's root; null without one."
  value       = local.domain == null ? null : "https://${aws_api_gateway_base_path_mapping.this[0].domain_name}"
}

output "domain_target" {
  description = "The regional host name the custom domain's DNS record must alias (or CNAME) to; null without one."
  value       = one(aws_api_gateway_domain_name.this[*].regional_domain_name)
}
