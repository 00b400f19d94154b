# The API's custom domain name (api.domain): a REGIONAL API Gateway domain with the environment's ACM certificate and
# TLS 1.2, the stage mapped at the domain's root, and, with a Route 53 hosted zone, an alias A record to it. Checked
# against the API Gateway Developer Guide ("Setting up a regional custom domain name in API Gateway": the certificate
# in the API's Region; "Creating an API mapping"; the alias record to the regional domain name and its hosted zone)
# and the provider's aws_api_gateway_domain_name (regional_certificate_arn, endpoint_configuration REGIONAL,
# security_policy TLS_1_2, regional_domain_name and regional_zone_id read back).

locals {
  domain = var.api.domain
}

resource "aws_api_gateway_domain_name" "this" {
  count                    = local.domain == null ? 0 : 1
  domain_name              = local.domain.name
  regional_certificate_arn = local.domain.certificate_arn
  security_policy          = "TLS_1_2"
  endpoint_configuration {
    types = ["REGIONAL"]
  }
  tags = var.tags
}

resource "aws_api_gateway_base_path_mapping" "this" {
  count       = local.domain == null ? 0 : 1
  api_id      = aws_api_gateway_rest_api.this.id
  stage_name  = aws_api_gateway_stage.this.stage_name
  domain_name = aws_api_gateway_domain_name.this[0].domain_name
}

resource "aws_route53_record" "this" {
  count   = local.domain == null ? 0 : (local.domain.hosted_zone_id == null ? 0 : 1)
  zone_id = local.domain.hosted_zone_id
  name    = local.domain.name
  type    = "A"
  alias {
    name                   = aws_api_gateway_domain_name.this[0].regional_domain_name
    zone_id                = aws_api_gateway_domain_name.this[0].regional_zone_id
    evaluate_target_health = false
  }
}
