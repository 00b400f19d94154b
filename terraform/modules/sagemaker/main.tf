# SageMaker: the execution role of training jobs and endpoints, and per model the
# initial (baseline) model, endpoint configuration, endpoint, auto scaling and
# the SSM parameter recording the current model.
#
# Terraform bootstraps each endpoint once; from then on the retraining pipeline
# owns what runs behind it (new model + endpoint configuration, UpdateEndpoint,
# SSM parameter). `ignore_changes` keeps a later `up` from reverting that.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition

  variant  = "AllTraffic" # the retraining pipeline's endpoint configurations keep this variant name
  role_arn = "arn:${local.partition}:iam::${local.account_id}:role/${var.name_prefix}-sagemaker"

  data_bucket_names  = distinct([for m in values(var.models) : m.data_bucket_name])
  model_bucket_names = distinct([for m in values(var.models) : m.model_bucket_name])

  # Models with an initial artifact get a model, endpoint configuration and endpoint now.
  bootstrapped = { for name, m in var.models : name => merge(m, {
    artifact   = var.initial_model_artifacts[name]
    key        = "baseline/model.tar.gz"
    model_name = trimsuffix(substr("${m.endpoint_name}-baseline", 0, 63), "-")
  }) if contains(keys(var.initial_model_artifacts), name) }
}

# ---------------------------------------------------------------- execution role

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["sagemaker.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = "${var.name_prefix}-sagemaker" # local.role_arn names it too
  description        = "SageMaker training jobs and endpoints of ${var.name_prefix}"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

# Who calls what with this role: training and tuning jobs (channels, artifacts, image, logs, metrics), models and
# endpoints (artifact, image, data capture, rollback alarms) and, when a model labels with Ground Truth
# (`automated_labeling`), the labelling job and automated labelling's training and transform jobs. For a built-in task
# type such as text classification, Ground Truth's execution role needs S3 (the input manifest, the label categories,
# the UI template, the output path), CloudWatch logs and metrics, the KMS key of OutputConfig.KmsKeyId and
# LabelingJobResourceConfig.VolumeKmsKeyId, and for automated labelling iam:PassRole of itself (SageMaker Developer
# Guide, "Create a SageMaker Execution Role for a Ground Truth Labeling Job" and "Encrypt Output Data and Storage
# Volume with AWS KMS"). The pipeline puts all of the labelling job's S3 objects under labeling/ of the model bucket
# (templates/steps/label_ground_truth.j2), which ReadAndWriteModels covers.
#
# No lambda:InvokeFunction: the guide asks the role for it only in custom labelling workflows ("AWS Lambda for
# processing input and output data when you create a custom workflow"); its built-in task type policy has none, and
# AWS's AmazonSageMakerGroundTruthExecution policy grants it only on custom function names (*GtRecipe*,
# *LabelingFunction*, *SageMaker*, ...), none of which matches the AWS-owned PRE-TextMultiClass and
# ACS-TextMultiClass functions (account 568282634449 etc. per region, vwt_deploy/build/statemachines.py) the pipeline
# names: Ground Truth invokes those itself.
data "aws_iam_policy_document" "this" {
  # s3:ListBucket: training channels (S3Prefix) and Ground Truth list their prefixes; GetBucketLocation: SageMaker and
  # Ground Truth find each bucket's region before reading or writing it
  statement {
    sid       = "ListDataAndModelBuckets"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [for b in concat(local.data_bucket_names, local.model_bucket_names) : "arn:${local.partition}:s3:::${b}"]
  }

  # s3:GetObject of the data buckets: the `train` channel of models that do not label (labeling mode none reads the
  # data prefix directly; labelled models train on their copy in the model bucket), and locally the emulator's work
  # team, whose label files the labelling job reads from the data bucket as this role
  statement {
    sid       = "ReadData"
    actions   = ["s3:GetObject"]
    resources = [for b in local.data_bucket_names : "arn:${local.partition}:s3:::${b}/*"]
  }

  # training's schema and champion channels, model.tar.gz and output.tar.gz uploads (multipart), CreateModel's artifact,
  # data capture, and Ground Truth's reads (manifest, categories, UI template) and writes (output manifest, automated
  # labelling's intermediate data) under labeling/
  statement {
    sid       = "ReadAndWriteModels"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"]
    resources = [for b in local.model_bucket_names : "arn:${local.partition}:s3:::${b}/*"]
  }

  # training jobs, tuning jobs and models pull the framework's image
  statement {
    sid       = "PullTheImage"
    actions   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
    resources = [var.repository_arn]
  }

  # the image pull's registry login
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # iam-star-ok: GetAuthorizationToken supports no resource-level permissions
  }

  # every job's and endpoint's log streams and events (/aws/sagemaker/TrainingJobs, Endpoints/<name>, LabelingJobs,
  # TransformJobs)
  statement {
    sid = "WriteSageMakerLogs"
    actions = [
      "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams",
    ]
    resources = [
      "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/sagemaker/*",
      "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/sagemaker/*:log-stream:*",
    ]
  }

  # The job log groups are shared by every environment of the account and region, so no environment's Terraform
  # owns them: SageMaker creates them on a job's first log line. The endpoints' groups exist (created above).
  # CreateLogGroup: a training or tuning job's first log line, a batch transform job's (batch scoring, and
  # automated labelling's inference jobs) and a processing job's (the drift check)
  statement {
    sid     = "CreateTheSharedJobLogGroups"
    actions = ["logs:CreateLogGroup"]
    resources = [
      "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/sagemaker/TrainingJobs",
      "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/sagemaker/TransformJobs",
      "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/sagemaker/ProcessingJobs",
    ]
  }

  # CreateLogGroup: a labelling job's first event (/aws/sagemaker/LabelingJobs). Only where a model labels with
  # Ground Truth.
  dynamic "statement" {
    for_each = var.automated_labeling ? [1] : []
    content {
      sid       = "CreateTheLabelingLogGroups"
      actions   = ["logs:CreateLogGroup"]
      resources = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/sagemaker/LabelingJobs"]
    }
  }

  # PutMetricData: training, transform and labelling jobs' metrics (/aws/sagemaker/TrainingJobs, TransformJobs,
  # LabelingJobs namespaces)
  statement {
    sid       = "PublishSageMakerMetrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"] # iam-star-ok: PutMetricData supports no resource-level permissions; limited by namespace below
    condition {
      test     = "StringLike"
      variable = "cloudwatch:namespace"
      values   = ["/aws/sagemaker/*", "aws/sagemaker/*"]
    }
  }

  # Blue/green deployments with auto-rollback: SageMaker watches the alarms with this role (SageMaker Developer
  # Guide, "Auto-Rollback Configuration and Monitoring": "Ensure that your IAM execution role has permission to
  # perform the cloudwatch:DescribeAlarms action on the auto-rollback alarms you specify"; the Service
  # Authorization Reference lists the alarm resource type for DescribeAlarms).
  dynamic "statement" {
    for_each = length(flatten(values(var.rollback_alarm_names))) > 0 ? [1] : []
    content {
      sid       = "WatchTheRollbackAlarms"
      actions   = ["cloudwatch:DescribeAlarms"]
      resources = [for name in distinct(flatten(values(var.rollback_alarm_names))) : "arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:${name}"]
    }
  }

  # Training jobs, tuning jobs and models in a VPC: SageMaker attaches network interfaces with this role
  # (SageMaker Developer Guide, "CreateTrainingJob API: Execution Role Permissions" and "CreateModel API",
  # "If you specify a private VPC ... add the following permissions"). The Service Authorization Reference
  # scopes CreateNetworkInterface to subnets and security groups, and the network-interface actions to
  # network interfaces; the Describe* actions and DeleteNetworkInterfacePermission (its request names a
  # permission id, no interface) take no resource.
  dynamic "statement" {
    for_each = var.vpc == null ? [] : [1]
    content {
      sid     = "AttachToTheVpc"
      actions = ["ec2:CreateNetworkInterface"]
      resources = concat(
        ["arn:${local.partition}:ec2:${local.region}:${local.account_id}:network-interface/*"],
        [for s in var.vpc.subnet_ids : "arn:${local.partition}:ec2:${local.region}:${local.account_id}:subnet/${s}"],
        [for g in var.vpc.security_group_ids : "arn:${local.partition}:ec2:${local.region}:${local.account_id}:security-group/${g}"],
      )
    }
  }

  dynamic "statement" {
    for_each = var.vpc == null ? [] : [1]
    content {
      sid       = "ManageItsNetworkInterfaces"
      actions   = ["ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface"]
      resources = ["arn:${local.partition}:ec2:${local.region}:${local.account_id}:network-interface/*"]
    }
  }

  dynamic "statement" {
    for_each = var.vpc == null ? [] : [1]
    content {
      sid = "DescribeTheVpc"
      actions = [
        "ec2:DeleteNetworkInterfacePermission", "ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs",
        "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeDhcpOptions",
      ]
      resources = ["*"] # iam-star-ok: these EC2 actions support no resource-level permissions
    }
  }

  # iam:PassRole: Ground Truth's automated labelling trains and runs transform jobs with the labelling job's role,
  # which is this one: it passes itself (Developer Guide, "Automated Data Labeling Permission Requirements").
  dynamic "statement" {
    for_each = var.automated_labeling ? [1] : []
    content {
      sid       = "AutomatedLabelingPassesItself"
      actions   = ["iam:PassRole"]
      resources = [local.role_arn]
      condition {
        test     = "StringEquals"
        variable = "iam:PassedToService"
        values   = ["sagemaker.amazonaws.com"]
      }
    }
  }

  # Decrypt and GenerateDataKey: S3 reads and writes of SSE-KMS objects (channels, artifacts, Ground Truth's input and
  # OutputConfig.KmsKeyId output); Encrypt and DescribeKey: the job's and endpoint configuration's KmsKeyId (Ground
  # Truth's KMS guide lists both for the output key)
  statement {
    sid       = "UseTheEnvironmentKey"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [var.kms_key_arn]
  }

  # CreateGrant: the ML storage volumes of training jobs, endpoints and automated labelling's jobs
  # (LabelingJobResourceConfig.VolumeKmsKeyId), for AWS resources only
  statement {
    sid       = "GrantTheKeyToSageMakerVolumes"
    actions   = ["kms:CreateGrant"]
    resources = [var.kms_key_arn]
    condition {
      test     = "Bool"
      variable = "kms:GrantIsForAWSResource"
      values   = ["true"]
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "sagemaker-execution"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

# ---------------------------------------------------------------- the baseline model of a fresh environment

resource "aws_s3_object" "initial" {
  for_each               = local.bootstrapped
  bucket                 = each.value.model_bucket_name
  key                    = each.value.key
  source                 = each.value.artifact
  source_hash            = filemd5(each.value.artifact)
  server_side_encryption = "aws:kms"
  kms_key_id             = var.kms_key_arn
  tags                   = var.tags
}

# ---------------------------------------------------------------- the feature schema every training job reads

resource "aws_s3_object" "schema" {
  for_each               = { for name, path in var.model_schemas : name => path if contains(keys(var.models), name) }
  bucket                 = var.models[each.key].model_bucket_name
  key                    = "schema/schema.json"
  source                 = each.value
  source_hash            = filemd5(each.value)
  content_type           = "application/json"
  server_side_encryption = "aws:kms"
  kms_key_id             = var.kms_key_arn
  tags                   = var.tags
}

resource "aws_sagemaker_model" "initial" {
  for_each                 = local.bootstrapped
  name                     = each.value.model_name
  execution_role_arn       = aws_iam_role.this.arn
  enable_network_isolation = true

  # the same network as the models the pipeline deploys (their CreateModel carries the same VpcConfig)
  dynamic "vpc_config" {
    for_each = var.vpc == null ? [] : [var.vpc]
    content {
      subnets            = vpc_config.value.subnet_ids
      security_group_ids = vpc_config.value.security_group_ids
    }
  }

  primary_container {
    image          = var.image_uri
    model_data_url = "s3://${aws_s3_object.initial[each.key].bucket}/${aws_s3_object.initial[each.key].key}"
    environment    = { VWT_MODEL = each.key }
  }

  tags = var.tags

  # A bootstrap: a new image tag or artifact does not replace it (the retraining pipeline deploys new models).
  lifecycle {
    ignore_changes = [primary_container]
  }

  depends_on = [aws_iam_role_policy.this]
}

# Each endpoint's log group (SageMaker Developer Guide, "Log Amazon SageMaker AI events with Amazon CloudWatch":
# /aws/sagemaker/Endpoints/[EndpointName]). SageMaker would otherwise create it at run time, unencrypted, never
# expiring, and a destroy would leave it behind. It exists before the endpoint, so the role creates no group.
resource "aws_cloudwatch_log_group" "endpoint" {
  for_each          = var.models
  name              = "/aws/sagemaker/Endpoints/${each.value.endpoint_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_sagemaker_endpoint_configuration" "initial" {
  for_each    = local.bootstrapped
  name        = each.value.model_name
  kms_key_arn = var.kms_key_arn

  production_variants {
    variant_name           = local.variant
    model_name             = aws_sagemaker_model.initial[each.key].name
    instance_type          = var.endpoint.instance_type
    initial_instance_count = var.endpoint.initial_instance_count
  }

  # The same capture as the pipeline's endpoint configurations (vwt_deploy.build.statemachines.data_capture):
  # a share of the requests and answers, as JSON, under data-capture/ of the model bucket, with the key.
  dynamic "data_capture_config" {
    for_each = var.endpoint.capture_percentage > 0 ? [1] : []
    content {
      enable_capture              = true
      initial_sampling_percentage = var.endpoint.capture_percentage
      destination_s3_uri          = "s3://${each.value.model_bucket_name}/data-capture"
      kms_key_id                  = var.kms_key_arn
      capture_options {
        capture_mode = "Input"
      }
      capture_options {
        capture_mode = "Output"
      }
      capture_content_type_header {
        json_content_types = ["application/json"]
      }
    }
  }

  tags = var.tags

  # Sizing changes after the bootstrap go into the configurations the pipeline creates.
  lifecycle {
    ignore_changes = [production_variants]
  }
}

resource "aws_sagemaker_endpoint" "this" {
  for_each             = local.bootstrapped
  name                 = each.value.endpoint_name
  endpoint_config_name = aws_sagemaker_endpoint_configuration.initial[each.key].name

  deployment_config {
    blue_green_update_policy {
      traffic_routing_configuration {
        type                     = "ALL_AT_ONCE"
        wait_interval_in_seconds = var.bake_seconds
      }
      termination_wait_in_seconds          = 120
      maximum_execution_timeout_in_seconds = 3600
    }

    dynamic "auto_rollback_configuration" {
      for_each = length(lookup(var.rollback_alarm_names, each.key, [])) > 0 ? [1] : []
      content {
        dynamic "alarms" {
          for_each = var.rollback_alarm_names[each.key]
          content {
            alarm_name = alarms.value
          }
        }
      }
    }
  }

  tags = merge(var.tags, { "vwt:model" = each.key })

  depends_on = [aws_cloudwatch_log_group.endpoint] # its first log line finds its group, encrypted

  # The retraining pipeline moves the endpoint to new configurations: never revert it. The
  # provider replaces an endpoint when its deployment_config changes, which would put the
  # baseline back behind it: after creation, blue/green settings change only by UpdateEndpoint
  # (the pipeline passes RetainDeploymentConfig = true to keep these).
  lifecycle {
    ignore_changes = [endpoint_config_name, deployment_config]
  }
}

# ---------------------------------------------------------------- the current model, read by the pipeline's gate

resource "aws_ssm_parameter" "current_model" {
  #checkov:skip=CKV2_AWS_34:holds the name and location of the serving model, no secret; the pipeline writes it as a String
  for_each    = var.models
  name        = "${var.current_model_parameter_prefix}/${each.key}"
  description = "The model serving behind ${each.value.endpoint_name} (written by the retraining pipeline)"
  type        = "String"
  value = jsonencode(contains(keys(local.bootstrapped), each.key) ? {
    model                = each.key
    version              = "baseline"
    model_name           = local.bootstrapped[each.key].model_name
    endpoint_config_name = local.bootstrapped[each.key].model_name
    model_data_url       = "s3://${each.value.model_bucket_name}/${local.bootstrapped[each.key].key}"
    metric               = null
    } : {
    model                = each.key
    version              = "none"
    model_name           = null
    endpoint_config_name = null
    model_data_url       = null
    metric               = null
  })
  tags = merge(var.tags, { "vwt:model" = each.key })

  lifecycle {
    ignore_changes = [value]
  }
}

# ---------------------------------------------------------------- auto scaling on invocations per instance

resource "aws_appautoscaling_target" "this" {
  for_each           = aws_sagemaker_endpoint.this
  service_namespace  = "sagemaker"
  resource_id        = "endpoint/${each.value.name}/variant/${local.variant}"
  scalable_dimension = "sagemaker:variant:DesiredInstanceCount"
  min_capacity       = var.endpoint.min_capacity
  max_capacity       = var.endpoint.max_capacity
  tags               = var.tags
}

resource "aws_appautoscaling_policy" "this" {
  for_each           = aws_appautoscaling_target.this
  name               = "${var.models[each.key].endpoint_name}-invocations"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = each.value.service_namespace
  resource_id        = each.value.resource_id
  scalable_dimension = each.value.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.endpoint.target_invocations_per_instance
    scale_in_cooldown  = 300
    scale_out_cooldown = 60
    predefined_metric_specification {
      predefined_metric_type = "SageMakerVariantInvocationsPerInstance"
    }
  }
}
