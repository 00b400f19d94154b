# The registry module planned with a mocked AWS provider.

mock_provider "aws" {}

variables {
  repository_name = "vwt-dev-sklearn"
  kms_key_arn     = "arn:aws:kms:eu-west-1:111111111111:key/00000000-0000-0000-0000-000000000000"
}

run "down_deletes_the_repository_with_its_images" {
  command = plan
  module {
    source = "./modules/registry"
  }

  assert {
    condition     = aws_ecr_repository.this.force_delete
    error_message = "DeleteRepository must force: `up` pushes images, and a non-empty repository stops a destroy half-way"
  }
  assert {
    condition     = aws_ecr_repository.this.image_tag_mutability == "IMMUTABLE" && aws_ecr_repository.this.encryption_configuration[0].encryption_type == "KMS"
    error_message = "immutable content tags, encrypted with the environment's key"
  }
}

run "no_tagged_image_ever_expires" {
  command = plan
  module {
    source = "./modules/registry"
  }

  # A deployed model runs `<repository>:<content tag>`: every rule must select untagged images only, and an
  # untagged rule names no tags (ECR: "If you specify untagged, then you must omit both" tag lists).
  assert {
    condition = alltrue([for r in jsondecode(aws_ecr_lifecycle_policy.this.policy).rules :
      r.selection.tagStatus == "untagged" && !can(r.selection.tagPrefixList) && !can(r.selection.tagPatternList) && r.action.type == "expire"
    ])
    error_message = "only untagged images may expire: a tagged image may be what a live endpoint runs"
  }
  assert {
    condition     = jsondecode(aws_ecr_lifecycle_policy.this.policy).rules[0].selection.countNumber == 7 && jsondecode(aws_ecr_lifecycle_policy.this.policy).rules[0].selection.countUnit == "days"
    error_message = "untagged images expire 7 days after their push by default"
  }
}
