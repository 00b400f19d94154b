"""The integration tier: tests that start an emulator process, or moto's server in this process.

- `emulator`: ONE running emulator per session (per xdist worker), shared by every test here
  (a `RunningEmulator`: url, pid, `processes()` its runtime started). Tests name their resources so
  that they never meet another module's. It starts with fast `.sync` polls (VWT_SFN_POLL_SECONDS=0.1),
  so the Step Functions tests need no emulator of their own, and with IAM off (VWT_LOCAL_IAM=off): these
  tests check the runtime's mechanics with made-up roles; IAM is checked by tests/integration/emulator/
  test_enforcement.py (an emulator of its own) and by the system tier, which runs enforced as users do.
- `emulator_client(service)`: a boto3 client of it.
- `training_data`: a small classification data set on it (s3://vwt-test-data/training/).
- `moto_server`: moto's server in this process, with the runtime's SageMaker integration (a client factory).
- `deployed_project`: a project copy whose own emulator runs, looking as `up` leaves it (for the CLI).

Tests that need an emulator of their own (stopped, killed, on a busy port, a project folder's) start it
themselves, and say why.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers import copy_project, emulator_clients
from tests.helpers.emulator import RunningEmulator, start_emulator
from tests.helpers.stepfunctions import upload_training_data
from vwt_deploy.emulator.enforcement import Mode
from vwt_deploy.emulator.runtime.stepfunctions import POLL_ENV

FAST_POLLS = "0.1"  # seconds between two Describe calls of a `.sync` task

os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(scope="session")
def emulator(tmp_path_factory) -> Iterator[RunningEmulator]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(POLL_ENV, FAST_POLLS)  # the emulator process inherits it
        running = start_emulator(
            tmp_path_factory.mktemp("state") / "emulator", iam=Mode.OFF.value
        )  # see above  # as `up --env local` starts it
    yield running
    running.stop()


@pytest.fixture(scope="session")
def emulator_client(emulator: RunningEmulator) -> Callable:
    return emulator.client


@pytest.fixture(scope="session")
def training_data(emulator_client: Callable) -> None:
    """A small classification data set (and its feature schema) under s3://vwt-test-data/training/."""
    upload_training_data(emulator_client("s3"))


@pytest.fixture(scope="module")
def moto_server(tmp_path_factory) -> Iterator[Callable]:
    """moto's server on a free port in this process, interpreting state machines, with the runtime's
    SageMaker integration installed (and every global put back afterwards). Yields a client factory."""
    from moto.core.config import default_user_config
    from moto.server import ThreadedMotoServer
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory

    from vwt_deploy.emulator.runtime import Runtime, stepfunctions

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    port = server.get_host_and_port()[1]
    saved = (state_task_factory.state_task_service_for, default_user_config["stepfunctions"]["execute_state_machine"])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MOTO_PORT", str(port))  # the interpreter's own calls (aws-sdk, sns) go to this server
        mp.setenv(POLL_ENV, FAST_POLLS)  # read by the runtime in this process
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            mp.setenv(key, "test")
        default_user_config["stepfunctions"]["execute_state_machine"] = True
        stepfunctions.install(Runtime(tmp_path_factory.mktemp("runtime"), port))
        try:
            yield emulator_clients(f"http://127.0.0.1:{port}")
        finally:
            stepfunctions.uninstall()  # moto's routing and its clients back
            state_task_factory.state_task_service_for = saved[0]
            default_user_config["stepfunctions"]["execute_state_machine"] = saved[1]
            server.stop()


@pytest.fixture(scope="module")
def deployed_project(tmp_path_factory) -> Iterator[tuple[Path, Callable]]:
    """A project copy whose emulator runs and whose `local` environment looks as `up` leaves it: the
    deployment marker of this emulator boot and cached Terraform outputs. Tests create the state machines
    and rules those outputs name. Yields (project folder, client factory).

    Its own emulator, not the shared one: the CLI finds the emulator in the project's folder, and
    `local tick` fires every rule the emulator holds."""
    root = copy_project(tmp_path_factory.mktemp("project"))
    state = root / ".vwt"
    running = start_emulator(state / "emulator", iam=Mode.OFF.value)  # the tests' rules and machines: made-up roles
    try:
        env_dir = state / "envs" / "local"
        env_dir.mkdir(parents=True, exist_ok=True)
        (env_dir / "deployed.json").write_text(json.dumps({"boot_id": running.info.boot_id}))
        yield root, running.client
    finally:
        running.stop()
