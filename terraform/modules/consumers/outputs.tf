output "intervention_topic_arn" {
  description = "ARN of the intervention topic (risk predictions)."
  value       = aws_sns_topic.this["intervention"].arn
}

output "intervention_queue_url" {
  description = "URL of the intervention queue the intervention model reads."
  value       = aws_sqs_queue.this["intervention"].id
}

output "intervention_queue_arn" {
  description = "ARN of the intervention queue."
  value       = aws_sqs_queue.this["intervention"].arn
}

output "intervention_dlq_url" {
  description = "URL of the intervention dead-letter queue."
  value       = aws_sqs_queue.dlq["intervention"].id
}

output "operator_topic_arn" {
  description = "ARN of the operator topic (the operator delivery point)."
  value       = aws_sns_topic.this["operator"].arn
}

output "operator_queue_urls" {
  description = "Operator id -> URL of its queue (only its own players' events of the operator topic)."
  value       = { for k, q in local.queues : q.operator => aws_sqs_queue.this[k].id if q.operator != null }
}

output "operator_dlq_urls" {
  description = "Operator id -> URL of its queue's dead-letter queue."
  value       = { for k, q in local.queues : q.operator => aws_sqs_queue.dlq[k].id if q.operator != null }
}

output "topic_arns" {
  description = "ARNs of every consumer topic (what the prediction function may publish to)."
  value       = [for t in aws_sns_topic.this : t.arn]
}

output "queue_names" {
  description = "Queue key (intervention, operator-<id>) -> queue name (for the monitoring of queue depth and dead letters)."
  value       = { for k, q in aws_sqs_queue.this : k => q.name }
}

output "dlq_names" {
  description = "Queue key (intervention, operator-<id>) -> dead-letter queue name."
  value       = { for k, q in aws_sqs_queue.dlq : k => q.name }
}
