"""Every .tf file parses; modules have the terraform-aws-modules shape; variables are typed and described."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.terraform import tfconfig

MODULE_FILES = ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md")
TF_FILES = tfconfig.tf_files()
CONFIG_DIRS = tfconfig.module_dirs() + tfconfig.env_dirs()


def _ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(tfconfig.TERRAFORM)) for p in paths]


def test_the_tree_has_the_modules_and_the_example_root() -> None:
    names = {p.name for p in tfconfig.module_dirs()}
    assert {
        "ses_region",
        "queue",
        "state",
        "lambda_function",
        "scheduler",
        "archive",
        "alerts",
        "observability",
        "budget",
        "http_endpoint",
        "ses_inbound",
    } <= names
    assert (tfconfig.ENVS / "example" / "main.tf").is_file()
    assert len(TF_FILES) >= 4 * len(names) + 4  # main, variables, outputs, versions


@pytest.mark.parametrize("path", TF_FILES, ids=_ids(TF_FILES))
def test_every_tf_file_parses(path: Path) -> None:
    parsed = tfconfig.parse_file(path)
    assert parsed, f"{path} parsed to nothing"


@pytest.mark.parametrize("path", tfconfig.module_dirs(), ids=_ids(tfconfig.module_dirs()))
def test_every_module_has_the_standard_files(path: Path) -> None:
    missing = [name for name in MODULE_FILES if not (path / name).is_file()]
    assert not missing, f"{path.name} lacks {missing}"


@pytest.mark.parametrize("path", CONFIG_DIRS, ids=_ids(CONFIG_DIRS))
def test_every_variable_has_a_type_and_a_description(path: Path) -> None:
    variables = tfconfig.load(path).variables()
    assert variables, f"{path} declares no variables"
    for name, body in variables.items():
        assert body.get("type"), f"{path.name}: variable {name} has no type"
        assert str(body.get("description", "")).strip(), f"{path.name}: variable {name} has no description"


@pytest.mark.parametrize("path", CONFIG_DIRS, ids=_ids(CONFIG_DIRS))
def test_every_output_is_described(path: Path) -> None:
    for name, body in tfconfig.load(path).outputs().items():
        assert str(body.get("description", "")).strip(), f"{path.name}: output {name} has no description"


_RESOURCE_REFERENCE = re.compile(r"^\$\{(aws_[a-z0-9_]+|module)\.")


@pytest.mark.parametrize("path", tfconfig.module_dirs(), ids=_ids(tfconfig.module_dirs()))
def test_module_outputs_read_resources_through_try(path: Path) -> None:
    """terraform-aws-modules style."""
    for name, body in tfconfig.load(path).outputs().items():
        value = str(body["value"])
        assert not _RESOURCE_REFERENCE.match(value), f"{path.name}: output {name} = {value} is not in try()"


# The one provider build these machines have is 5.100; users on 6.x must work too (ADR 0500).
AWS_PROVIDER_VERSION = ">= 5.100, < 7.0"


@pytest.mark.parametrize("path", CONFIG_DIRS, ids=_ids(CONFIG_DIRS))
def test_versions_pin_terraform_and_admit_aws_provider_5_100_and_6(path: Path) -> None:
    settings = tfconfig.load(path).blocks.get("terraform", [])
    assert settings, f"{path} has no terraform block"
    block = settings[0]
    assert block.get("required_version") == ">= 1.5.7", path
    aws = _aws_requirement(block)
    assert aws["source"] == "hashicorp/aws"
    assert aws["version"] == AWS_PROVIDER_VERSION, path


def _aws_requirement(block: dict[str, Any]) -> dict[str, Any]:
    providers = block["required_providers"]
    aws: dict[str, Any] = (providers[0] if isinstance(providers, list) else providers)["aws"]
    return aws


@pytest.mark.parametrize("path", tfconfig.module_dirs(), ids=_ids(tfconfig.module_dirs()))
def test_each_module_has_a_primary_resource_named_this(path: Path) -> None:
    """A resource named `this`, or (a module that composes others) a module call named `this`."""
    config = tfconfig.load(path)
    primary = any(name == "this" for _, name, _ in config.resources()) or "this" in config.modules()
    assert primary, f"{path.name} has no `this` resource"


@pytest.mark.parametrize("path", CONFIG_DIRS, ids=_ids(CONFIG_DIRS))
def test_regions_come_from_providers_not_from_resource_arguments(path: Path) -> None:
    """No AWS provider 6 per-resource `region` (provider 5.100 has none): a resource outside the
    default provider names its provider, and a module only uses aliases it declares."""
    config = tfconfig.load(path)
    aliases = set(_aws_requirement(config.blocks["terraform"][0]).get("configuration_aliases", []))
    aliases |= {f"${{aws.{body['alias']}}}" for _, body in config.providers() if "alias" in body}
    blocks = list(config.resources())
    blocks += [
        (k, n, b)
        for group in config.blocks.get("data", [])
        for k, named in group.items()
        for n, b in named.items()
    ]
    for kind, name, body in blocks:
        assert "region" not in body, f"{path.name}: {kind}.{name} sets region"
        if "provider" in body:
            assert body["provider"] in aliases, f"{path.name}: {kind}.{name} uses an undeclared provider"
    assert "region" not in config.variables(), f"{path.name} takes a region"


@pytest.mark.parametrize("path", tfconfig.module_dirs(), ids=_ids(tfconfig.module_dirs()))
def test_every_module_readme_lists_its_inputs_and_outputs(path: Path) -> None:
    """The README's Inputs and Outputs tables name exactly the module's variables and outputs."""
    readme = (path / "README.md").read_text(encoding="utf-8")
    config = tfconfig.load(path)
    for heading, names in (("Inputs", config.variables()), ("Outputs", config.outputs())):
        section = readme.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
        listed = re.findall(r"^\| `([a-z0-9_]+)` \|", section, flags=re.M)
        assert listed == list(names), f"{path.name}: README {heading} {listed} != {list(names)}"
