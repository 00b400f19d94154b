"""The build layer: everything the tool makes from the configuration before Terraform runs.

Each module writes its files under `.vwt/envs/<env>/` and returns the Terraform variables that name them;
`artifacts()` is the one list of them. Deterministic: the same configuration writes the same bytes.
- `statemachines`: each model's Step Functions definition and IAM policy, rendered from templates/;
- `package`: the Lambda zip, with `catalogue` (the model catalogue as the Lambda reads it);
- `openapi`: the prediction API's contract;
- `events`: the consumers' contract (a JSON Schema per event type), beside it;
- `models`: per model, its feature schema and its baseline artifact;
- `image`: the training/serving image's content tag, its build and its push.
"""

from __future__ import annotations

from typing import Any

from vwt_deploy.config import Environment
from vwt_deploy.project import Project


def artifacts(project: Project, env: Environment, image_tag: str) -> dict[str, Any]:
    """Build everything Terraform needs for `env`; return the variables that name it."""
    from vwt_deploy.build import events, models, openapi, package, statemachines

    openapi.write(project, env)  # the API contract for client teams, beside the definitions
    events.write(project, env)  # the events' contract for the intervention model's team and the operators
    return {
        **statemachines.artifacts(project, env),
        **package.artifacts(project, env),
        "image_tag": image_tag,
        "initial_model_artifacts": models.initial_models(project, env),
        "model_schemas": models.model_schemas(project, env),
    }
