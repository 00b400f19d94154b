output "admin_topic_arn" {
  description = "ARN of the admin topic (alarms and pipeline reports)."
  value       = aws_sns_topic.admin.arn
}

output "endpoint_alarm_names" {
  description = "Model name -> the endpoint's alarms (the blue/green rollback alarms)."
  value = { for model, _ in var.endpoint_names : model => [
    for key, a in aws_cloudwatch_metric_alarm.endpoint : a.alarm_name if local.endpoint_alarms[key].model == model
  ] }
}

output "alarm_names" {
  description = "Names of every alarm of this module."
  value = concat(
    [aws_cloudwatch_metric_alarm.api_5xx.alarm_name, aws_cloudwatch_metric_alarm.api_latency.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.lambda_errors : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.lambda_throttles : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.endpoint : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.prediction : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.executions : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.dead_letters : a.alarm_name],
  )
}

output "prediction_alarm_names" {
  description = "Model name (and \"unknown\") -> the alarms on the prediction Lambda's metrics of that model."
  value = { for model in concat(local.prediction_models, ["unknown"]) : model => [
    for key, a in aws_cloudwatch_metric_alarm.prediction : a.alarm_name if local.prediction_alarms[key].model == model
  ] }
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  value       = try(aws_cloudwatch_dashboard.this.dashboard_name, null)
}

output "email_subscription_arn" {
  description = "ARN of the admin e-mail subscription (null when none; pending until confirmed)."
  value       = try(aws_sns_topic_subscription.email[0].arn, null)
}
