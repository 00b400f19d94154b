"""checkov over terraform/, offline, in its own virtual environment (scripts/lint-terraform.sh).

The first run installs checkov into .venv-lint (about 30 s, from PyPI); later runs take a few seconds.
"""

from __future__ import annotations

import os
import re
import subprocess

import yaml

from tests.helpers import REPO, TERRAFORM

CONFIG = TERRAFORM / ".checkov.yaml"


def test_checkov_passes():
    env = {**os.environ, "VWT_LINT_VENV": os.environ.get("VWT_LINT_VENV", str(REPO / ".venv-lint"))}
    proc = subprocess.run(
        [str(REPO / "scripts" / "lint-terraform.sh")], cwd=REPO, env=env, capture_output=True, text=True, timeout=600
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, (
        f"checkov found problems (fix them, or skip with a reason in {CONFIG.name}):\n{out[-6000:]}"
    )
    m = re.search(r"Passed checks: (\d+), Failed checks: (\d+)", out)
    assert m and int(m.group(1)) > 100 and int(m.group(2)) == 0, out[-3000:]


def test_every_skipped_check_has_a_reason():
    text = CONFIG.read_text()
    config = yaml.safe_load(text)
    skipped = config["skip-check"]
    assert skipped, "the skip list is empty: then remove it"
    for check in skipped:
        line = next(line for line in text.splitlines() if re.match(rf"\s*-\s*{check}\b", line))
        reason = line.split("#", 1)[1].strip() if "#" in line else ""
        assert len(reason) >= 30, f"{check}: say why it is skipped ({reason!r})"


def test_inline_skips_are_listed_in_the_config():
    listed = CONFIG.read_text()
    for path in TERRAFORM.rglob("*.tf"):
        if ".terraform" in path.parts:
            continue
        for no, line in enumerate(path.read_text().splitlines(), 1):
            m = re.search(r"#checkov:skip=([A-Z0-9_]+):(.*)$", line)
            if m:
                assert len(m.group(2).strip()) >= 20, f"{path}:{no}: an inline skip needs its reason"
                assert m.group(1) in listed, f"{path}:{no}: list {m.group(1)} at the end of {CONFIG.name}"


def test_checkov_version_is_bounded():
    script = (REPO / "scripts" / "lint-terraform.sh").read_text()
    assert re.search(r"checkov>=3\.2[.\d]*,<3\.4", script)
