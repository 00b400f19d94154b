# The VWT machine-learning framework. Modules arrive with the Terraform issue.
locals {
  model_names = sort(keys(var.models))
}
