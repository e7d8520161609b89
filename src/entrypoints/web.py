"""The worker's web surface wired from the application: POST /sns and the unsubscribe endpoints."""

from __future__ import annotations

from adapters.http_server import LocalHttpServer
from adapters.sns import SnsEndpoint, SnsVerifier
from adapters.web import WebApp
from entrypoints.container import Application
from entrypoints.settings import Settings


def web_app(application: Application, settings: Settings) -> WebApp:
    services = application.services
    ingestor = services.ingestor()
    verifier = SnsVerifier(
        application.adapters.clock(),
        topic_arns={t.strip() for t in settings.sns_topic_arns.split(",") if t.strip()},
    )
    sns = SnsEndpoint(verifier, on_notification=lambda message: ingestor.ingest([message]))
    return WebApp(unsubscribe=services.unsubscribe(), sns=sns)


def start_http(application: Application, settings: Settings, port: int | None = None) -> LocalHttpServer:
    app = web_app(application, settings)
    return LocalHttpServer(app, settings.http_host, settings.http_port if port is None else port).start()
