"""Parsed Terraform configurations, loaded once per session (parsing is the slow part)."""

from __future__ import annotations

import pytest

from tests.terraform import tfconfig


@pytest.fixture(scope="session")
def example() -> tfconfig.Config:
    return tfconfig.load(tfconfig.ENVS / "example")


@pytest.fixture(scope="session")
def modules() -> dict[str, tfconfig.Config]:
    return {path.name: tfconfig.load(path) for path in tfconfig.module_dirs()}
