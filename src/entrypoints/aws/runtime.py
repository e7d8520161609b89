"""The Lambda cold start: settings from the environment (set by Terraform), JSON logs, the container;
and `invocation`, which the handlers wear so that each invocation, returned or raised, ends with its
buffered metrics written out as EMF lines on stdout (CloudWatch Logs turns them into metrics)."""

from __future__ import annotations

import os

from entrypoints.aws.manifest import check_environment
from entrypoints.container import Application, build
from entrypoints.log_setup import configure_logging
from entrypoints.observability import flushed
from entrypoints.settings import Settings


def cold_start() -> Application:
    check_environment(os.environ)
    settings = Settings(backend="aws")
    configure_logging(settings.log_level, json=True)
    return build(settings)


application = cold_start()
invocation = flushed(application.adapters.metrics())
