"""The Lambda cold start: settings from the environment (set by Terraform), JSON logs, the container."""

from __future__ import annotations

from entrypoints.container import Application, build
from entrypoints.log_setup import configure_logging
from entrypoints.settings import Settings


def cold_start() -> Application:
    settings = Settings(backend="aws")
    configure_logging(settings.log_level, json=True)
    return build(settings)


application = cold_start()
