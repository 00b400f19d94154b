"""Lambda handlers of the retraining pipeline (stdlib and boto3 only).

`pipeline.size.handler` measures a model's training data and picks the training
resources; `pipeline.label.handler` labels it (self-exclusion anchor, or Ground
Truth preparation and merge). The state machine (templates/) calls both.
"""
