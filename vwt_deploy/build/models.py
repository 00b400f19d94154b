"""The model artifacts a fresh environment needs: per model its feature schema and its baseline model.

Both come from the catalogue and are deterministic, so Terraform sees no change when none was made.
"""

from __future__ import annotations

from vwt_deploy.config import Environment
from vwt_deploy.project import Project


def model_schemas(project: Project, env: Environment) -> dict[str, str]:
    """Per model, its feature schema (`schema.json`) from the catalogue: Terraform uploads it to the model bucket
    and every training job reads it as its `schema` channel (types, categories, defaults of the features)."""
    from vwt_model.schema import write_schema

    folder = project.env_dir(env.name) / "build" / "schema"
    out = {}
    for m in env.catalogue.models:
        (folder / m.name).mkdir(parents=True, exist_ok=True)
        out[m.name] = str(write_schema(m.features, folder / m.name / "schema.json"))
    return out


def initial_models(project: Project, env: Environment) -> dict[str, str]:
    """Per model, the baseline `model.tar.gz` a fresh environment serves until its first retraining
    (a constant prior, model version "baseline"); deterministic, so Terraform sees no change when none was made."""
    from vwt_model.baseline import build_artifact

    folder = project.env_dir(env.name) / "build" / "baseline"
    return {
        m.name: str(build_artifact(m.features, m.task, folder / m.name / "model.tar.gz")) for m in env.catalogue.models
    }
