"""Every .tf file parses; modules have the terraform-aws-modules shape; variables are typed and described."""

from __future__ import annotations

import re
from pathlib import Path

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
    """terraform-aws-modules style; ses_inbound (provider 5 era, feedback branch) is not held to it."""
    config = tfconfig.load(path)
    if _requires_provider_6(config):
        for name, body in config.outputs().items():
            value = str(body["value"])
            assert not _RESOURCE_REFERENCE.match(value), (
                f"{path.name}: output {name} = {value} is not in try()"
            )


@pytest.mark.parametrize("path", CONFIG_DIRS, ids=_ids(CONFIG_DIRS))
def test_versions_pin_terraform_and_the_aws_provider(path: Path) -> None:
    settings = tfconfig.load(path).blocks.get("terraform", [])
    assert settings, f"{path} has no terraform block"
    block = settings[0]
    assert str(block.get("required_version", "")).startswith(">="), path
    aws = block["required_providers"][0]["aws"] if isinstance(block["required_providers"], list) else None
    aws = aws or block["required_providers"]["aws"]
    assert aws["source"] == "hashicorp/aws"
    assert re.match(r"^>= ?\d", aws["version"]), f"{path}: the aws provider is not pinned"


@pytest.mark.parametrize("path", tfconfig.module_dirs(), ids=_ids(tfconfig.module_dirs()))
def test_each_module_has_a_primary_resource_named_this(path: Path) -> None:
    config = tfconfig.load(path)
    assert any(name == "this" for _, name, _ in config.resources()), f"{path.name} has no `this` resource"


# Types without a region (IAM, Budgets, Route 53 are global; an SNS subscription's region is its topic's).
GLOBAL_TYPES = {"aws_iam_role", "aws_iam_role_policy", "aws_budgets_budget", "aws_route53_record"}


@pytest.mark.parametrize("path", tfconfig.module_dirs(), ids=_ids(tfconfig.module_dirs()))
def test_regional_resources_take_the_region_per_resource(path: Path) -> None:
    """AWS provider 6 modules place every regional resource with `region` (no provider alias)."""
    config = tfconfig.load(path)
    if not _requires_provider_6(config):
        return
    for kind, name, body in config.resources():
        if kind not in GLOBAL_TYPES:
            assert "region" in body, f"{path.name}: {kind}.{name} does not set region"


def _requires_provider_6(config: tfconfig.Config) -> bool:
    block = config.blocks["terraform"][0]
    providers = block["required_providers"]
    aws = (providers[0] if isinstance(providers, list) else providers)["aws"]
    return str(aws["version"]).replace(" ", "").startswith(">=6")
