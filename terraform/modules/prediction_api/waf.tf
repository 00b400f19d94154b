# AWS WAF in front of the stage (api.waf; on by default for staging and prod): a regional web ACL whose first rule
# limits each client IP (a rate-based rule), then AWS's known-bad-inputs group (always, and blocking even when
# api.waf.action is count: it matches Log4j's JNDI lookups and other exploit patterns), then the other managed rule
# groups of api.waf.managed_rule_groups. Checked against the AWS WAF Developer
# Guide ("Rate-based rule statement": aggregate by IP, evaluation windows of 60, 120, 300 or 600 s; "AWS Managed
# Rules rule groups list"; "Using AWS WAF with Amazon API Gateway": a REGIONAL web ACL associated with the stage ARN)
# and the provider's aws_wafv2_web_acl schema (rate limit 100 to 2e9, rule_action_override).
#
# The core rule set's SizeRestrictions_BODY blocks every body over 8 KB (AWS WAF inspects the first 8 KB only): a
# batch of prediction records is larger (up to api.max_records records), and API Gateway's request model bounds it
# already, so that one rule counts instead of blocking.

locals {
  waf_enabled = var.api.waf.enabled
  waf_block   = var.api.waf.action == "block"
  # rules of a managed group that count instead of blocking, and why (above)
  waf_counted_rules = { AWSManagedRulesCommonRuleSet = ["SizeRestrictions_BODY"] }
}

resource "aws_wafv2_web_acl" "api" {
  #checkov:skip=CKV2_AWS_31:WAF logging is a paid choice of destination (a Firehose, a bucket or an aws-waf-logs- log group) left to the operator; the web ACL's CloudWatch metrics and sampled requests are on
  count       = local.waf_enabled ? 1 : 0
  name        = "${var.name_prefix}-api"
  description = "The prediction API of ${var.name_prefix}: a rate limit per client IP and AWS managed rules"
  scope       = "REGIONAL"

  default_action {
    allow {}
  }

  rule {
    name     = "rate-per-client-ip"
    priority = 0
    action {
      dynamic "block" {
        for_each = local.waf_block ? [1] : []
        content {}
      }
      dynamic "count" {
        for_each = local.waf_block ? [] : [1]
        content {}
      }
    }
    statement {
      rate_based_statement {
        limit                 = var.api.waf.rate_limit
        evaluation_window_sec = var.api.waf.rate_window_seconds
        aggregate_key_type    = "IP"
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name_prefix}-rate-per-client-ip"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "AWSManagedRulesKnownBadInputsRuleSet"
    priority = 1
    override_action {
      none {} # the group's own actions, block included, even in count mode: its matches are exploits, not traffic
    }
    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesKnownBadInputsRuleSet"
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name_prefix}-AWSManagedRulesKnownBadInputsRuleSet"
      sampled_requests_enabled   = true
    }
  }

  dynamic "rule" {
    for_each = { for i, group in var.api.waf.managed_rule_groups : group => i + 2 }
    content {
      name     = rule.key
      priority = rule.value
      override_action {
        dynamic "none" {
          for_each = local.waf_block ? [1] : []
          content {}
        }
        dynamic "count" {
          for_each = local.waf_block ? [] : [1]
          content {}
        }
      }
      statement {
        managed_rule_group_statement {
          vendor_name = "AWS"
          name        = rule.key
          dynamic "rule_action_override" {
            for_each = lookup(local.waf_counted_rules, rule.key, [])
            content {
              name = rule_action_override.value
              action_to_use {
                count {}
              }
            }
          }
        }
      }
      visibility_config {
        cloudwatch_metrics_enabled = true
        metric_name                = "${var.name_prefix}-${rule.key}"
        sampled_requests_enabled   = true
      }
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = "${var.name_prefix}-api"
    sampled_requests_enabled   = true
  }

  tags = var.tags
}

resource "aws_wafv2_web_acl_association" "api" {
  count        = local.waf_enabled ? 1 : 0
  resource_arn = aws_api_gateway_stage.this.arn
  web_acl_arn  = aws_wafv2_web_acl.api[0].arn
}
