# The VWT machine-learning framework: one root configuration for every environment.
# Environments differ only in the values vwt-deploy writes (terraform.tfvars.json)
# and in the backend key. Names are made in Python (vwt_deploy/config.py), never here.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  model_names = sort(keys(var.models))
  is_local    = var.environment == "local"

  # The destroy guard (see modules/storage/README.md): data and model buckets of
  # dev/staging/prod survive a destroy unless allow_data_destroy was applied first.
  protect_data  = !local.is_local && !var.allow_data_destroy
  force_destroy = local.is_local || var.allow_data_destroy

  current_model_parameter_prefix = "/${var.name_prefix}/current-model"
  image_uri                      = "${module.registry.repository_url}:${var.image_tag}"
}

module "storage" {
  source = "./modules/storage"

  name_prefix              = var.name_prefix
  data_buckets             = var.data_buckets
  model_buckets            = { for name, m in var.models : name => m.model_bucket_name }
  results_bucket_name      = var.results_bucket_name
  log_bucket_name          = var.log_bucket_name
  protect_data             = local.protect_data
  force_destroy            = local.force_destroy
  kms_deletion_window_days = local.is_local ? 7 : 30
  tags                     = var.tags
}

module "registry" {
  source = "./modules/registry"

  repository_name      = var.image_repository_name
  kms_key_arn          = module.storage.kms_key_arn
  untagged_expire_days = var.ecr_untagged_expire_days
  tags                 = var.tags
}

module "consumers" {
  source = "./modules/consumers"

  name_prefix = var.name_prefix
  kms_key_arn = module.storage.kms_key_arn
  operators   = { for id, o in var.operators : id => o.name }
  tags        = var.tags
}

module "sagemaker" {
  source = "./modules/sagemaker"

  name_prefix = var.name_prefix
  models = { for name, m in var.models : name => {
    endpoint_name     = m.endpoint_name
    data_bucket_name  = module.storage.data_bucket_names[m.data_bucket]
    data_prefix       = m.data_prefix
    model_bucket_name = module.storage.model_bucket_names[name]
  } }
  initial_model_artifacts        = var.initial_model_artifacts
  model_schemas                  = var.model_schemas
  image_uri                      = local.image_uri
  repository_arn                 = module.registry.repository_arn
  kms_key_arn                    = module.storage.kms_key_arn
  endpoint                       = var.endpoints
  rollback_alarm_names           = module.monitoring.endpoint_alarm_names
  current_model_parameter_prefix = local.current_model_parameter_prefix
  vpc                            = var.training.vpc
  log_retention_days             = var.log_retention_days
  automated_labeling             = anytrue([for m in values(var.models) : m.labeling_mode == "ground_truth"])
  tags                           = var.tags
}

module "prediction_api" {
  source = "./modules/prediction_api"

  name_prefix                    = var.name_prefix
  environment                    = var.environment
  lambda_package_path            = var.lambda_package_path
  authorizer_package_path        = var.authorizer_package_path
  device_identities              = var.device_identities
  lambda_runtime                 = var.lambda_runtime
  kms_key_arn                    = module.storage.kms_key_arn
  endpoint_names                 = module.sagemaker.endpoint_names
  endpoint_arns                  = module.sagemaker.endpoint_arn_patterns
  intervention_topic_arn         = module.consumers.intervention_topic_arn
  operator_topic_arn             = module.consumers.operator_topic_arn
  current_model_parameter_prefix = local.current_model_parameter_prefix
  current_model_parameter_arns   = module.sagemaker.current_model_parameter_arns
  api                            = var.api
  operators                      = var.operators
  manage_api_gateway_account     = var.manage_api_gateway_account
  log_retention_days             = var.log_retention_days
  tags                           = var.tags
}

module "retraining" {
  source = "./modules/retraining"

  lambda_runtime = var.lambda_runtime
  name_prefix    = var.name_prefix
  models = { for name, m in var.models : name => {
    schedule_expression = m.schedule_expression
    schedule_mode       = m.schedule_mode
    schedule_enabled    = m.schedule_enabled
    scoring_expression  = m.scoring_expression
    scoring_enabled     = m.scoring_enabled
    drift_expression    = m.drift_expression
    drift_enabled       = m.drift_enabled
    model_package_group = m.model_package_group
  } }
  approval       = var.approval
  state_machines = var.state_machines
  template_vars = {
    account_id                     = data.aws_caller_identity.current.account_id
    region                         = data.aws_region.current.name
    name_prefix                    = var.name_prefix
    sagemaker_role_arn             = module.sagemaker.role_arn
    image_uri                      = local.image_uri
    kms_key_arn                    = module.storage.kms_key_arn
    admin_topic_arn                = module.monitoring.admin_topic_arn
    current_model_parameter_prefix = local.current_model_parameter_prefix
  }
  lambda_package_path = var.lambda_package_path
  data_bucket_names   = values(module.storage.data_bucket_names)
  model_bucket_names  = values(module.storage.model_bucket_names)
  training_sizing     = var.training.sizing
  scoring = {
    environment            = var.environment
    intervention_topic_arn = module.consumers.intervention_topic_arn
    operator_topic_arn     = module.consumers.operator_topic_arn
    results_bucket_name    = module.storage.results_bucket_name
  }
  kms_key_arn        = module.storage.kms_key_arn
  log_retention_days = var.log_retention_days
  tags               = var.tags
}

module "monitoring" {
  source = "./modules/monitoring"

  name_prefix             = var.name_prefix
  kms_key_arn             = module.storage.kms_key_arn
  admin_email             = var.admin_email
  environment             = var.environment
  api_name                = module.prediction_api.api_name
  stage_name              = module.prediction_api.stage_name
  waf_web_acl_name        = module.prediction_api.waf_web_acl_name
  function_names          = concat([module.prediction_api.function_name], values(module.retraining.function_names))
  endpoint_names          = { for name, m in var.models : name => m.endpoint_name }
  state_machine_arns      = module.retraining.state_machine_arns
  dead_letter_queue_names = module.consumers.dlq_names
  alarms                  = var.alarms
  prediction_alarms       = var.alarms.prediction
  drift_thresholds        = { for name, m in var.models : name => m.drift_threshold }
  tags                    = var.tags
}
