"""The terraform CLI against the local endpoint: a copy of terraform/ with one override file that only
points the providers at the endpoint, a CLI configuration that installs the AWS provider from the
local filesystem mirror (nothing is downloaded), and dummy tfvars."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
MIRROR_CANDIDATES = (
    Path("/opt/tf-plugins"),
    Path.home() / ".terraform.d" / "plugins",
    Path("/usr/share/terraform/plugins"),
    Path("/usr/local/share/terraform/plugins"),
)
PROVIDER = "registry.terraform.io/hashicorp/aws"
PLAN_FILE = "stack.tfplan"
# Every service the configuration talks to; the override points each at the endpoint.
SERVICES = (
    "apigatewayv2",
    "acm",
    "budgets",
    "cloudwatch",
    "cloudwatchlogs",
    "dynamodb",
    "iam",
    "kms",
    "lambda",
    "route53",
    "s3",
    "scheduler",
    "ses",
    "sesv2",
    "sns",
    "sqs",
    "ssm",
    "sts",
)


def provider_mirror() -> Path | None:
    for candidate in MIRROR_CANDIDATES:
        if (candidate / PROVIDER).is_dir():
            return candidate
    return None


def override(endpoint: str, provider_names: list[str]) -> str:
    endpoints = "\n".join(f'    {service} = "{endpoint}"' for service in SERVICES)
    blocks = []
    for alias in provider_names:
        alias_line = f'  alias = "{alias}"\n' if alias else ""
        blocks.append(
            f'provider "aws" {{\n{alias_line}'
            "  skip_credentials_validation = true\n"
            "  skip_metadata_api_check     = true\n"
            "  s3_use_path_style           = true\n"
            f"  endpoints {{\n{endpoints}\n  }}\n}}\n"
        )
    return "# Written by tests/stack: only points the providers at the local endpoint.\n" + "\n".join(blocks)


@dataclass
class Terraform:
    workdir: Path  # a copy of terraform/; the root is envs/example inside it
    env: dict[str, str]

    @classmethod
    def prepare(
        cls,
        workdir: Path,
        endpoint: str,
        credentials: dict[str, str],
        tfvars: dict[str, Any],
        source: Path = ROOT / "terraform",
    ) -> Terraform:
        mirror = provider_mirror()
        if mirror is None:
            raise FileNotFoundError(
                f"no {PROVIDER} provider in a local mirror ({', '.join(map(str, MIRROR_CANDIDATES))})"
            )
        shutil.copytree(source, workdir, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"))
        root = workdir / "envs" / "example"
        aliases = ["", *_provider_aliases(root)]
        (root / "stack_test_override.tf").write_text(override(endpoint, aliases))
        (root / "stack-test.tfvars.json").write_text(json.dumps(tfvars, indent=2))
        cli_config = workdir / "terraform.rc"
        cli_config.write_text(
            "provider_installation {\n"
            f'  filesystem_mirror {{\n    path    = "{mirror}"\n    include = ["{PROVIDER}"]\n  }}\n'
            f'  direct {{\n    exclude = ["{PROVIDER}"]\n  }}\n'
            "}\n"
        )
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(workdir),
            "TF_CLI_CONFIG_FILE": str(cli_config),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",
            "AWS_EC2_METADATA_DISABLED": "true",
            **credentials,
        }
        return cls(workdir=workdir, env=env)

    @property
    def root(self) -> Path:
        return self.workdir / "envs" / "example"

    def run(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        command = ["terraform", f"-chdir={self.root}", *args]
        try:
            result = subprocess.run(
                command, env=self.env, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired as stuck:
            output = stuck.output.decode() if isinstance(stuck.output, bytes) else str(stuck.output or "")
            tail = "\n".join(output.splitlines()[-40:])
            raise RuntimeError(f"terraform {args[0]} still running after {timeout:.0f} s:\n{tail}") from None
        if check and result.returncode != 0:
            raise RuntimeError(f"terraform {args[0]} failed ({result.returncode}):\n{_tail(result)}")
        return result

    def init(self) -> None:
        # -lockfile=readonly: the committed lock file must already hold the provider we install.
        self.run("init", "-backend=false", "-lockfile=readonly", "-no-color")

    def validate(self) -> dict[str, Any]:
        return dict(json.loads(self.run("validate", "-json", "-no-color").stdout))

    def plan(self, *extra: str) -> tuple[int, str]:
        """`plan -detailed-exitcode`: 0 = no changes, 2 = changes; the human-readable plan. The plan is
        saved: `apply()` applies exactly it, as a pipeline does (plan, review, apply the plan file)."""
        result = self.run(
            "plan",
            "-detailed-exitcode",
            "-no-color",
            "-parallelism=30",
            "-var-file=stack-test.tfvars.json",
            f"-out={PLAN_FILE}",
            *extra,
            check=False,
        )
        if result.returncode not in (0, 2):
            raise RuntimeError(f"terraform plan failed ({result.returncode}):\n{_tail(result)}")
        return result.returncode, result.stdout

    def drift_detail(self) -> dict[str, dict[str, tuple[Any, Any]]]:
        """Like drift(), with the values: address -> attribute -> (now, what the plan would set)."""
        shown = json.loads(self.run("show", "-json", "drift.tfplan").stdout)
        detail: dict[str, dict[str, tuple[Any, Any]]] = {}
        for change in shown.get("resource_changes", []):
            before = change["change"].get("before") or {}
            after = change["change"].get("after") or {}
            diff = {
                k: (before.get(k), after.get(k))
                for k in set(before) | set(after)
                if before.get(k) != after.get(k)
            }
            if diff and change["change"]["actions"] not in (["no-op"], ["read"]):
                detail[change["address"]] = diff
        return detail

    def drift(self) -> dict[str, list[str]]:
        """What `terraform plan` would change now: resource address -> the attributes it would set."""
        self.run(
            "plan", "-no-color", "-parallelism=30", "-var-file=stack-test.tfvars.json", "-out=drift.tfplan"
        )
        shown = json.loads(self.run("show", "-json", "drift.tfplan").stdout)
        changes: dict[str, list[str]] = {}
        for change in shown.get("resource_changes", []):
            actions = change["change"]["actions"]
            if actions in (["no-op"], ["read"]):
                continue
            before = change["change"].get("before") or {}
            after = change["change"].get("after") or {}
            unknown = change["change"].get("after_unknown") or {}
            keys = sorted(
                k
                for k in set(before) | set(after)
                if before.get(k) != after.get(k) and not (k in unknown and unknown[k] is True)
            )
            changes[change["address"]] = [f"{'/'.join(actions)}: {k}" for k in keys] or ["/".join(actions)]
        return changes

    def apply(self) -> str:
        """Apply the plan `plan()` saved, once (without one, plan and apply in one go)."""
        saved = self.root / PLAN_FILE
        if saved.exists():
            try:
                return self.run("apply", "-auto-approve", "-no-color", "-parallelism=30", PLAN_FILE).stdout
            finally:
                saved.unlink()
        return self.run(
            "apply", "-auto-approve", "-no-color", "-parallelism=30", "-var-file=stack-test.tfvars.json"
        ).stdout

    def destroy(self, refresh: bool = True) -> str:
        """`refresh=False` when a plan has just refreshed the state (drift()): it is read once only."""
        return self.run(
            "destroy",
            "-auto-approve",
            "-no-color",
            "-parallelism=30",
            "-var-file=stack-test.tfvars.json",
            *(() if refresh else ("-refresh=false",)),
        ).stdout

    def outputs(self) -> dict[str, Any]:
        raw = json.loads(self.run("output", "-json", "-no-color").stdout)
        return {name: value["value"] for name, value in raw.items()}

    def state_resources(self) -> list[str]:
        result = self.run("state", "list", check=False)
        return [line for line in result.stdout.splitlines() if line.strip()]


def _provider_aliases(root: Path) -> list[str]:
    import re

    aliases = []
    for path in root.glob("*.tf"):
        aliases += re.findall(
            r'provider\s+"aws"\s*\{[^}]*?alias\s*=\s*"([^"]+)"', path.read_text(), flags=re.S
        )
    return sorted(set(aliases))


def _tail(result: subprocess.CompletedProcess[str], lines: int = 60) -> str:
    text = (result.stdout or "") + (result.stderr or "")
    return "\n".join(text.splitlines()[-lines:])
