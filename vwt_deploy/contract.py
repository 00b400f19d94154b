"""Names and contracts shared by the Python tool, Terraform, the Lambda and the Step Functions templates.

Each is written here once; the other side reads it from what the tool hands over (tfvars, the bundled
`catalogue.json`, the rendered definitions), and tests check that both sides agree.
"""

from __future__ import annotations

#: the template variables Terraform fills in the rendered definitions (`templatefile`); nothing else may
#: appear as ${...} in a definition
TEMPLATE_VARS = (
    "account_id",
    "region",
    "name_prefix",
    "sagemaker_role_arn",
    "image_uri",
    "kms_key_arn",
    "size_function_arn",
    "label_function_arn",
    "scoring_check_function_arn",
    "scoring_publish_function_arn",
    "drift_function_arn",
    "admin_topic_arn",
    "current_model_parameter_prefix",
)

#: the production variant's name; the endpoint Terraform creates, its auto scaling and the pipeline's
#: endpoint configurations use the same (terraform/modules/sagemaker keeps "AllTraffic" too)
VARIANT_NAME = "AllTraffic"

#: the key of every prediction record that names the player; no feature may take it
USER_ID_FIELD = "user_id"

#: the catalogue the prediction Lambda reads (`catalogue.json` at the root of its package), and its format
CATALOGUE_NAME = "catalogue.json"
CATALOGUE_FORMAT = 1

#: the build context of the training/serving image under containers/, and the suffix of its ECR repository
IMAGE_CONTEXT = "sklearn"
