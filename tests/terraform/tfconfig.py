"""Terraform configuration read with python-hcl2, and the consistency checks the tests run on it.

No terraform binary is involved (it cannot be downloaded here): a directory of .tf files is parsed into
its blocks, and the checks compare literal values in them with what the Python code declares. A value
the checks need but cannot read literally (an action list built by an expression, say) is an error,
never a pass.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2

REPO = Path(__file__).resolve().parents[2]
TERRAFORM = REPO / "terraform"
MODULES = TERRAFORM / "modules"
ENVS = TERRAFORM / "envs"
LAMBDA_MODULE = "modules/lambda_function"
# Modules that wrap one manifest function with its trigger (the function is the wrapper call's label).
FUNCTION_WRAPPERS = ("modules/imap_poller",)
_OPTIONS = hcl2.SerializationOptions(with_comments=False, strip_string_quotes=True, explicit_blocks=False)


class UncheckableError(ValueError):
    """The configuration holds an expression where a check needs a literal value."""


def parse_file(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        parsed: dict[str, Any] = hcl2.load(handle, serialization_options=_OPTIONS)
    return parsed


@dataclass
class Config:
    """The .tf files of one directory (a module or a root), their top-level blocks merged."""

    path: Path
    blocks: dict[str, list[Any]] = field(default_factory=dict)

    def resources(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(type, name, body) of every resource."""
        for group in self.blocks.get("resource", []):
            for kind, named in group.items():
                for name, body in named.items():
                    yield kind, name, body

    def resource(self, kind: str, name: str) -> dict[str, Any]:
        return next(body for k, n, body in self.resources() if (k, n) == (kind, name))

    def data(self, kind: str, name: str) -> dict[str, Any]:
        for group in self.blocks.get("data", []):
            if kind in group and name in group[kind]:
                body: dict[str, Any] = group[kind][name]
                return body
        raise KeyError(f"data.{kind}.{name}")

    def modules(self) -> dict[str, dict[str, Any]]:
        """Module calls by label."""
        return {label: body for group in self.blocks.get("module", []) for label, body in group.items()}

    def variables(self) -> dict[str, dict[str, Any]]:
        return {label: body for group in self.blocks.get("variable", []) for label, body in group.items()}

    def outputs(self) -> dict[str, dict[str, Any]]:
        return {label: body for group in self.blocks.get("output", []) for label, body in group.items()}

    def providers(self) -> list[tuple[str, dict[str, Any]]]:
        return [(name, body) for group in self.blocks.get("provider", []) for name, body in group.items()]


@functools.cache
def load(directory: Path) -> Config:
    """Parsed once per directory and shared: callers only read the result."""
    config = Config(directory)
    for path in sorted(directory.glob("*.tf")):
        for key, value in parse_file(path).items():
            config.blocks.setdefault(key, []).extend(value if isinstance(value, list) else [value])
    return config


def tf_files() -> list[Path]:
    return sorted(TERRAFORM.rglob("*.tf"))


def module_dirs() -> list[Path]:
    return sorted(p for p in MODULES.iterdir() if p.is_dir())


def env_dirs() -> list[Path]:
    return sorted(p for p in ENVS.iterdir() if p.is_dir())


def is_literal(value: object) -> bool:
    """False for an HCL expression (python-hcl2 renders those as "${...}")."""
    return not (isinstance(value, str) and "${" in value)


def literal_strings(value: object, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and is_literal(v) for v in value):
        raise UncheckableError(f"{what} must be a literal list of strings, found {value!r}")
    return list(value)


# --- IAM: what each function's role grants for its code ------------------------------------------


def function_calls(root: Config) -> dict[str, dict[str, Any]]:
    """Calls of the lambda_function module, by label (the manifest's function name): the root's own,
    and those of the root's modules that wrap one (modules/imap_poller), under the wrapper's label.
    A wrapped call's `${var.x}` values are the wrapper call's arguments, as Terraform would pass them."""
    calls: dict[str, dict[str, Any]] = {}
    for label, body in root.modules().items():
        source = str(body.get("source", "")).rstrip("/")
        if source.endswith(LAMBDA_MODULE):
            calls[label] = body
            continue
        if not source.endswith(FUNCTION_WRAPPERS):
            continue
        wrapped = [b for b in load(MODULES / source.rsplit("/", 1)[1]).modules().values()
                   if str(b.get("source", "")).rstrip("/").endswith("lambda_function")]  # fmt: skip
        if wrapped:
            calls[label.replace("-", "_")] = _substitute(wrapped[0], body)
    return calls


def _substitute(value: Any, arguments: Mapping[str, Any]) -> Any:
    """`${var.name}` -> the wrapper call's argument (kept as it is when the call does not set it)."""
    if isinstance(value, dict):
        return {k: _substitute(v, arguments) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, arguments) for v in value]
    if isinstance(value, str) and value.startswith("${var.") and value.endswith("}"):
        name = value[len("${var.") : -1]
        if name.isidentifier() and name in arguments:
            return arguments[name]
    return value


def granted_code_actions(call: Mapping[str, Any], label: str = "function") -> frozenset[str]:
    """The union of the actions of a lambda_function call's policy_statements."""
    statements = call.get("policy_statements", [])
    if not isinstance(statements, list):
        raise UncheckableError(f"{label}: policy_statements must be a literal list, found {statements!r}")
    actions: set[str] = set()
    for statement in statements:
        actions.update(
            literal_strings(statement.get("actions"), f"{label}: statement {statement.get('sid')}")
        )
    return frozenset(actions)


def iam_mismatches(root: Config, expected: Mapping[str, frozenset[str]]) -> list[str]:
    """Every difference between the actions the code calls (per function) and what Terraform grants."""
    problems: list[str] = []
    calls = function_calls(root)
    for name in sorted(set(calls) - set(expected)):
        problems.append(f"{name}: a Terraform function that the manifest does not know")
    for name, actions in sorted(expected.items()):
        if name not in calls:
            problems.append(f"{name}: no Terraform function for it")
            continue
        granted = granted_code_actions(calls[name], name)
        problems += [f"{name}: grants {a}, which its code never calls" for a in sorted(granted - actions)]
        problems += [f"{name}: lacks {a}, which its code calls" for a in sorted(actions - granted)]
    return problems


def environment_mismatches(root: Config, expected: Mapping[str, tuple[str, ...]]) -> list[str]:
    """Every difference between the environment variables each function reads and those Terraform sets."""
    problems: list[str] = []
    for name, call in sorted(function_calls(root).items()):
        if name not in expected:
            continue
        environment = call.get("environment", {})
        if not isinstance(environment, dict):
            raise UncheckableError(f"{name}: environment must be a literal map, found {environment!r}")
        wanted = set(expected[name])
        problems += [f"{name}: sets {v}, which it never reads" for v in sorted(set(environment) - wanted)]
        problems += [
            f"{name}: reads {v}, which Terraform does not set" for v in sorted(wanted - set(environment))
        ]
    return problems


# --- policy documents ------------------------------------------------------------------------------


def document_statements(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The statements of an aws_iam_policy_document, static and dynamic (their content blocks)."""
    statements = [s for s in _as_list(document.get("statement")) if isinstance(s, dict)]
    for dynamic in _as_list(document.get("dynamic")):
        for label, body in dynamic.items():
            if label == "statement":
                statements.extend(_as_list(body.get("content")))
    return statements


def _as_list(value: object) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
