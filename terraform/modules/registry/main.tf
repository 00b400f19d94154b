# The ECR repository of the training/serving image (containers/sklearn).

resource "aws_ecr_repository" "this" {
  name                 = var.repository_name
  image_tag_mutability = "IMMUTABLE" # a tag is the content hash of the image's sources: it never moves
  # The images are build outputs of this repository's code (tagged with its content hash): `down` removes them
  # with the repository, or DeleteRepository fails with RepositoryNotEmptyException half-way through a destroy.
  force_delete = var.force_delete

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = var.kms_key_arn
  }

  tags = var.tags
}

# Only untagged images expire (left by interrupted pushes). A tagged image may still be what a live endpoint
# runs: a model that kept its baseline, or whose retraining is paused, serves an older image, and a scale-out,
# an instance replacement or SageMaker's patching pulls it again. ECR rules can only expire, and a rule on
# tagged images cannot tell which are in use, so no tagged image is ever selected (ECR User Guide, lifecycle
# policy parameters: "If you specify untagged, then you must omit both" tag lists).
resource "aws_ecr_lifecycle_policy" "this" {
  repository = aws_ecr_repository.this.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "expire untagged images ${var.untagged_expire_days} days after their push"
      selection = {
        tagStatus   = "untagged"
        countType   = "sinceImagePushed"
        countUnit   = "days"
        countNumber = var.untagged_expire_days
      }
      action = { type = "expire" }
    }]
  })
}
