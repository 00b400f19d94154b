"""A thin wrapper of the terraform binary. Every call goes through a `Runner`.

Why not python-terraform: it is unmaintained since 2019 and its helpers pass
arguments Terraform removed in 0.15 (`-force`, a positional directory). What we
need is a dozen argv lists, so they are written here: `-chdir` to the root
configuration, `TF_DATA_DIR` per environment (so environments never share a
`.terraform/`), `-input=false`, `TF_IN_AUTOMATION`, `plan -out` then apply of
the saved plan, and JSON output parsed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from vwt_deploy.errors import ProcessError, VwtError
from vwt_deploy.process import Runner

# the S3 backend's `use_lockfile` (S3 native state locking, both targets): experimental in Terraform 1.10, generally
# available in 1.11 (Terraform's v1.10 and v1.11 upgrade guides)
MIN_VERSION = (1, 11)

#: where `make install` looks for a provider mirror (standard layout:
#: <dir>/registry.terraform.io/hashicorp/aws/<version>/<os_arch>/...), after VWT_TF_PLUGIN_MIRROR
MIRROR_CANDIDATES = (
    "~/.terraform.d/plugins",
    "~/.local/share/terraform/plugins",
    "/usr/local/share/terraform/plugins",
    "/usr/share/terraform/plugins",
    "/opt/tf-plugins",
    "/opt/terraform/plugins",
)


def find_mirror() -> Path | None:
    """The provider mirror to use: $VWT_TF_PLUGIN_MIRROR, else the first candidate holding hashicorp/aws."""
    explicit = os.environ.get("VWT_TF_PLUGIN_MIRROR")
    if explicit:
        path = Path(explicit).expanduser()
        if not (path / "registry.terraform.io").is_dir():
            raise VwtError(
                f"VWT_TF_PLUGIN_MIRROR={explicit} holds no registry.terraform.io/ folder",
                "point it at a filesystem mirror in Terraform's standard layout, or unset it to use the registry",
            )
        return path
    for candidate in MIRROR_CANDIDATES:
        path = Path(candidate).expanduser()
        if (path / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
            return path
    return None


def cli_config_text(mirror: Path | None, cache_dir: Path) -> str:
    """A Terraform CLI configuration: the mirror for hashicorp providers (if any) and a shared plugin cache."""
    text = f'plugin_cache_dir = "{cache_dir}"\n'
    if mirror:
        text += (
            "provider_installation {\n"
            f'  filesystem_mirror {{\n    path    = "{mirror}"\n'
            '    include = ["registry.terraform.io/hashicorp/*"]\n  }\n'
            '  direct {\n    exclude = ["registry.terraform.io/hashicorp/*"]\n  }\n'
            "}\n"
        )
    return text


@dataclass(frozen=True)
class PlanSummary:
    """What a saved plan would do, by resource type."""

    adds: Mapping[str, int] = field(default_factory=dict)
    changes: Mapping[str, int] = field(default_factory=dict)
    destroys: Mapping[str, int] = field(default_factory=dict)
    path: Path | None = None
    outputs_changed: bool = False
    imports: Mapping[str, int] = field(default_factory=dict)  # existing resources the apply records (adopted)
    #: `terraform show -json` of the plan (in memory only: it may hold sensitive values)
    document: Mapping | None = field(default=None, repr=False, compare=False)

    @property
    def has_changes(self) -> bool:
        return bool(self.adds or self.changes or self.destroys or self.imports or self.outputs_changed)

    def discard(self) -> None:
        """Delete the saved plan file: it holds secrets and goes stale, so it is never kept."""
        if self.path:
            self.path.unlink(missing_ok=True)

    @property
    def totals(self) -> tuple[int, int, int]:
        return sum(self.adds.values()), sum(self.changes.values()), sum(self.destroys.values())

    @classmethod
    def from_show_json(cls, doc: Mapping, path: Path | None = None) -> PlanSummary:
        adds: Counter = Counter()
        changes: Counter = Counter()
        destroys: Counter = Counter()
        imports: Counter = Counter()
        for rc in doc.get("resource_changes") or []:
            if rc.get("mode") == "data":
                continue
            actions = rc.get("change", {}).get("actions", [])
            kind = rc.get("type", "?")
            if rc.get("change", {}).get("importing"):
                imports[kind] += 1
            if "create" in actions:
                adds[kind] += 1
            if "delete" in actions:
                destroys[kind] += 1
            if actions == ["update"]:
                changes[kind] += 1
        outputs_changed = any(
            oc.get("actions") not in (["no-op"], None) for oc in (doc.get("output_changes") or {}).values()
        )
        return cls(
            dict(sorted(adds.items())),
            dict(sorted(changes.items())),
            dict(sorted(destroys.items())),
            path,
            outputs_changed,
            dict(sorted(imports.items())),
            doc,
        )

    def markdown(self, title: str) -> list[str]:
        """The summary as a Markdown table (a CI job's summary): one row per resource type and action."""
        out = [f"### {title}", ""]
        if not self.has_changes:
            return [*out, "No changes: the infrastructure matches the configuration."]
        out += [self.lines()[0], "", "| action | resource type | count |", "|---|---|---:|"]
        for label, counts in (
            ("import", self.imports),
            ("add", self.adds),
            ("change", self.changes),
            ("destroy", self.destroys),
        ):
            out += [f"| {label} | `{kind}` | {n} |" for kind, n in counts.items()]
        return out

    def lines(self) -> list[str]:
        if not self.has_changes:
            return ["No changes: the infrastructure matches the configuration."]
        add, change, destroy = self.totals
        adopted = sum(self.imports.values())
        out = [
            (f"Plan: {adopted} to import, " if adopted else "Plan: ")
            + f"{add} to add, {change} to change, {destroy} to destroy."
            + (" Outputs change too." if self.outputs_changed else "")
        ]
        for label, counts in (
            ("import", self.imports),
            ("add", self.adds),
            ("change", self.changes),
            ("destroy", self.destroys),
        ):
            for kind, n in counts.items():
                out.append(f"  {label:<8}{n:>3}  {kind}")
        return out


class Terraform:
    """One root configuration (`root`) with one data dir (`data_dir`) per environment."""

    def __init__(
        self,
        root: Path,
        data_dir: Path,
        runner: Runner,
        env: Mapping[str, str] | None = None,
        binary: str = "terraform",
    ):
        self.root = Path(root)
        self.data_dir = Path(data_dir)
        self.runner = runner
        self.binary = binary
        self.env = {
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "TF_DATA_DIR": str(self.data_dir.resolve()),
            "CHECKPOINT_DISABLE": "1",
            **(env or {}),
        }

    # ---- plumbing
    def _run(self, *args: str, stream: bool = True, ok_codes=(0,), hint: str | None = None):
        argv = [self.binary, f"-chdir={self.root}", *args]
        if shutil.which(self.binary) is None and not os.path.isabs(self.binary):
            raise VwtError(
                f"terraform is not on PATH (vwt-deploy needs terraform >= {'.'.join(map(str, MIN_VERSION))})",
                "install it from https://developer.hashicorp.com/terraform/install and run the command again",
            )
        return self.runner.run(argv, env=self.env, stream=stream, ok_codes=ok_codes, hint=hint)

    def version(self) -> tuple[int, ...]:
        out = self._run("version", "-json", stream=False).output
        raw = json.loads(out)["terraform_version"]
        return tuple(int(x) for x in re.findall(r"\d+", raw)[:3])

    # ---- commands
    def init(self, backend_config: Mapping[str, object] | None = None, backend: bool = True) -> None:
        args = ["init", "-input=false", "-no-color", "-reconfigure"]
        if not backend:
            args.append("-backend=false")
        for key, value in (backend_config or {}).items():
            if isinstance(value, bool):
                value = "true" if value else "false"
            args.append(f"-backend-config={key}={value}")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._run(
            *args,
            stream=False,
            hint="terraform init failed: check the provider mirror or registry access, and the backend",
        )

    def fmt_check(self) -> list[str]:
        """Files `terraform fmt` would change (empty when formatted)."""
        res = self._run("fmt", "-check", "-recursive", "-list=true", stream=False, ok_codes=(0, 3))
        return [line for line in res.output.splitlines() if line.strip()]

    def validate(self) -> list[str]:
        """Error and warning diagnostics (empty when valid)."""
        res = self._run("validate", "-json", "-no-color", stream=False, ok_codes=(0, 1))
        doc = json.loads(res.output)
        out = []
        for d in doc.get("diagnostics", []):
            rng = d.get("range") or {}
            where = f"{rng.get('filename')}:{rng.get('start', {}).get('line')}: " if rng else ""
            out.append(f"{d.get('severity')}: {where}{d.get('summary')}: {d.get('detail', '')}".rstrip(": "))
        if not doc.get("valid", False) and not out:
            out.append("error: terraform validate failed without diagnostics")
        return out

    def plan(
        self, var_file: Path, out: Path, destroy: bool = False, stream: bool = False, targets: tuple[str, ...] = ()
    ) -> PlanSummary:
        args = [
            "plan",
            "-input=false",
            "-no-color",
            "-detailed-exitcode",
            f"-var-file={var_file.resolve()}",
            f"-out={out.resolve()}",
            *(f"-target={t}" for t in targets),
        ]
        if destroy:
            args.append("-destroy")
        res = self._run(*args, stream=stream, ok_codes=(0, 2), hint=_lock_hint)
        if res.returncode == 0:
            return PlanSummary(path=out)
        return self.show(out)

    def show(self, planfile: Path) -> PlanSummary:
        res = self._run("show", "-json", "-no-color", str(planfile.resolve()), stream=False)
        return PlanSummary.from_show_json(json.loads(res.output), planfile)

    def force_unlock(self, lock_id: str) -> None:
        """Release the state's lock `lock_id` (`terraform force-unlock -force`): only for a lock whose run is over."""
        self._run("force-unlock", "-force", "-no-color", lock_id, stream=False)

    def apply(self, planfile: Path) -> None:
        self._run("apply", "-input=false", "-no-color", "-auto-approve", str(planfile.resolve()), hint=_lock_hint)

    def output(self) -> dict:
        res = self._run("output", "-json", "-no-color", stream=False)
        return {k: v.get("value") for k, v in json.loads(res.output or "{}").items()}

    def state_list(self) -> list[str]:
        res = self._run("state", "list", "-no-color", stream=False, ok_codes=(0, 1))
        return [line for line in res.output.splitlines() if line.strip()] if res.returncode == 0 else []


_lock_hint = (
    "if the output says the state is locked, another vwt-deploy or terraform run holds it: wait for it to finish "
    "(never force-unlock a run that is still going)"
)


def is_lock_error(exc: ProcessError) -> bool:
    return "Error acquiring the state lock" in exc.tail or "PreconditionFailed" in exc.tail
