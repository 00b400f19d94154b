# The SageMaker execution role's policy as the real provider computes it (aws_iam_policy_document is
# computed locally; the account, region and partition data sources are overridden, so nothing is called).

provider "aws" {
  region                      = "eu-west-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
}

variables {
  name_prefix = "vwt-dev"
  models = {
    "gb-problem-gambling" = { endpoint_name = "vwt-dev-gb-problem-gambling", data_bucket_name = "vwt-dev-data-gambling-behaviour", data_prefix = "training/", model_bucket_name = "vwt-dev-model-gb-problem-gambling" }
  }
  image_uri      = "111111111111.dkr.ecr.eu-west-1.amazonaws.com/vwt-dev-sklearn:abc123"
  repository_arn = "arn:aws:ecr:eu-west-1:111111111111:repository/vwt-dev-sklearn"
  kms_key_arn    = "arn:aws:kms:eu-west-1:111111111111:key/00000000-0000-0000-0000-000000000000"
  endpoint = {
    instance_type                   = "ml.m5.large", initial_instance_count = 1, min_capacity = 1, max_capacity = 3
    target_invocations_per_instance = 750
  }
  rollback_alarm_names           = { "gb-problem-gambling" = ["vwt-dev-gb-problem-gambling-invocation-5xx"] }
  current_model_parameter_prefix = "/vwt-dev/current-model"
  initial_model_artifacts        = {}
}

run "no_vpc_no_network_permissions" {
  command = plan
  module {
    source = "./modules/sagemaker"
  }
  override_data {
    target = data.aws_caller_identity.current
    values = { account_id = "111111111111", arn = "arn:aws:iam::111111111111:user/test", user_id = "TEST" }
  }

  assert {
    condition     = !strcontains(aws_iam_role_policy.this.policy, "ec2:") && !strcontains(aws_iam_role_policy.this.policy, "iam:PassRole")
    error_message = "without a VPC or Ground Truth the execution role holds no EC2 action and passes no role"
  }
  assert {
    condition     = contains([for st in jsondecode(aws_iam_role_policy.this.policy).Statement : st.Sid], "WatchTheRollbackAlarms") && one([for st in jsondecode(aws_iam_role_policy.this.policy).Statement : st.Resource if st.Sid == "WatchTheRollbackAlarms"]) == "arn:aws:cloudwatch:eu-west-1:111111111111:alarm:vwt-dev-gb-problem-gambling-invocation-5xx"
    error_message = "SageMaker may describe exactly the rollback alarms (blue/green auto-rollback)"
  }
  assert {
    condition = (
      !contains([for st in jsondecode(aws_iam_role_policy.this.policy).Statement : st.Sid], "CreateTheLabelingLogGroups")
      && !strcontains(aws_iam_role_policy.this.policy, "/aws/sagemaker/LabelingJobs\"")
    )
    error_message = "without Ground Truth the role creates no labelling job log group"
  }
  assert {
    condition = toset(flatten([for st in jsondecode(aws_iam_role_policy.this.policy).Statement : st.Resource if st.Sid == "CreateTheSharedJobLogGroups"])) == toset([
      "arn:aws:logs:eu-west-1:111111111111:log-group:/aws/sagemaker/TrainingJobs",
      "arn:aws:logs:eu-west-1:111111111111:log-group:/aws/sagemaker/TransformJobs",
      "arn:aws:logs:eu-west-1:111111111111:log-group:/aws/sagemaker/ProcessingJobs",
    ])
    error_message = "training and tuning jobs, batch transform jobs (batch scoring) and processing jobs (drift) create exactly their shared log groups"
  }
  assert {
    condition     = alltrue([for st in jsondecode(aws_iam_role_policy.this.policy).Statement : can(regex("^[A-Za-z0-9]+$", st.Sid))])
    error_message = "every statement of the execution role has a Sid"
  }
}

run "a_vpc_grants_what_sagemaker_needs_to_attach" {
  command = plan
  module {
    source = "./modules/sagemaker"
  }
  override_data {
    target = data.aws_caller_identity.current
    values = { account_id = "111111111111", arn = "arn:aws:iam::111111111111:user/test", user_id = "TEST" }
  }
  variables {
    vpc = { subnet_ids = ["subnet-0123456789abcdef0"], security_group_ids = ["sg-0123456789abcdef0"] }
  }

  assert {
    condition = length(setsubtract(
      ["ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface",
        "ec2:DeleteNetworkInterfacePermission", "ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs",
      "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeDhcpOptions"],
      flatten([for st in jsondecode(aws_iam_role_policy.this.policy).Statement : st.Action])
    )) == 0
    error_message = "every EC2 action the SageMaker guide lists for a private VPC is granted"
  }
  assert {
    condition = toset(one([for st in jsondecode(aws_iam_role_policy.this.policy).Statement : st.Resource if st.Sid == "AttachToTheVpc"])) == toset([
      "arn:aws:ec2:eu-west-1:111111111111:network-interface/*",
      "arn:aws:ec2:eu-west-1:111111111111:subnet/subnet-0123456789abcdef0",
      "arn:aws:ec2:eu-west-1:111111111111:security-group/sg-0123456789abcdef0",
    ])
    error_message = "interfaces are created only in the configured subnets and security groups"
  }
}

run "ground_truth_passes_the_role_to_itself" {
  command = plan
  module {
    source = "./modules/sagemaker"
  }
  override_data {
    target = data.aws_caller_identity.current
    values = { account_id = "111111111111", arn = "arn:aws:iam::111111111111:user/test", user_id = "TEST" }
  }
  variables {
    automated_labeling = true
  }

  assert {
    condition = one([for st in jsondecode(aws_iam_role_policy.this.policy).Statement : st if st.Sid == "AutomatedLabelingPassesItself"]) == {
      Sid       = "AutomatedLabelingPassesItself"
      Effect    = "Allow"
      Action    = "iam:PassRole"
      Resource  = "arn:aws:iam::111111111111:role/vwt-dev-sagemaker"
      Condition = { StringEquals = { "iam:PassedToService" = "sagemaker.amazonaws.com" } }
    }
    error_message = "automated labelling's training and transform jobs run with the execution role, which passes itself"
  }
  assert {
    condition = (
      one([for st in jsondecode(aws_iam_role_policy.this.policy).Statement : st.Action if st.Sid == "CreateTheLabelingLogGroups"]) == "logs:CreateLogGroup"
      && one([for st in jsondecode(aws_iam_role_policy.this.policy).Statement : st.Resource if st.Sid == "CreateTheLabelingLogGroups"]) == "arn:aws:logs:eu-west-1:111111111111:log-group:/aws/sagemaker/LabelingJobs"
    )
    error_message = "a labelling job creates /aws/sagemaker/LabelingJobs and no other group (its transform jobs log to TransformJobs, created by every role)"
  }
  assert {
    condition     = !strcontains(aws_iam_role_policy.this.policy, "lambda:")
    error_message = "Ground Truth invokes its built-in PRE-/ACS- functions itself: the execution role is granted no Lambda action"
  }
  assert {
    # what the labelling job reads and writes as the role: labeling/ of the model bucket (manifest, categories, UI
    # template, output), with the key of OutputConfig.KmsKeyId and LabelingJobResourceConfig.VolumeKmsKeyId
    condition = (
      length(setsubtract(["s3:GetObject", "s3:PutObject"], flatten([for st in jsondecode(aws_iam_role_policy.this.policy).Statement : st.Action if st.Sid == "ReadAndWriteModels"]))) == 0
      && contains(flatten([for st in jsondecode(aws_iam_role_policy.this.policy).Statement : st.Resource if st.Sid == "ReadAndWriteModels"]), "arn:aws:s3:::vwt-dev-model-gb-problem-gambling/*")
      && length(setsubtract(["kms:Decrypt", "kms:GenerateDataKey"], flatten([for st in jsondecode(aws_iam_role_policy.this.policy).Statement : st.Action if st.Sid == "UseTheEnvironmentKey"]))) == 0
      && one([for st in jsondecode(aws_iam_role_policy.this.policy).Statement : st.Condition if st.Sid == "GrantTheKeyToSageMakerVolumes"]) == { Bool = { "kms:GrantIsForAWSResource" = "true" } }
    )
    error_message = "the labelling job reads and writes the model bucket with the key, and grants the key to its volumes only for AWS resources"
  }
  assert {
    condition     = alltrue([for st in jsondecode(aws_iam_role_policy.this.policy).Statement : can(regex("^[A-Za-z0-9]+$", st.Sid))])
    error_message = "every statement of the execution role has a Sid"
  }
}
