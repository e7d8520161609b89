"""Fixtures of the issue-12 suites."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from structlog.testing import capture_logs


@pytest.fixture
def logs() -> Iterator[list[dict[str, Any]]]:
    """Every line logged during the test, at every level (the session logs ERROR and above only)."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(0))
    try:
        with capture_logs() as captured:
            yield captured
    finally:
        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
