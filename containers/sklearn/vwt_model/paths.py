"""SageMaker's /opt/ml tree; its root comes from VWT_ML_ROOT (default /opt/ml)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_ROOT = "/opt/ml"


@dataclass(frozen=True)
class MlPaths:
    root: Path

    @classmethod
    def from_env(cls, root: str | os.PathLike | None = None) -> MlPaths:
        return cls(Path(root or os.environ.get("VWT_ML_ROOT") or DEFAULT_ROOT))

    @property
    def hyperparameters(self) -> Path:
        return self.root / "input" / "config" / "hyperparameters.json"

    @property
    def input_data_config(self) -> Path:
        return self.root / "input" / "config" / "inputdataconfig.json"

    def channel(self, name: str) -> Path:
        return self.root / "input" / "data" / name

    @property
    def model(self) -> Path:
        return self.root / "model"

    @property
    def output(self) -> Path:
        return self.root / "output"

    @property
    def failure(self) -> Path:
        return self.output / "failure"
