"""Shared CLI plumbing: the settings of this invocation and the application built from them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NoReturn

import typer
from rich.console import Console
from rich.text import Text

from entrypoints.container import Application, build
from entrypoints.settings import Settings
from outreach_core.domain.addresses import AddressError, canonical_email
from outreach_core.records import GLOBAL, NotFoundError

err = Console(stderr=True)


@dataclass
class CliState:
    settings: Settings
    verbose: bool = False
    application: Application | None = field(default=None)


def app_for(state: CliState, *, create: bool = False) -> Application:
    """The application of this invocation. A local workspace must exist already (`outreach init`
    creates it): a mistyped --workspace is an error, not a fresh empty database."""
    if state.application is None:
        settings = state.settings
        if settings.backend == "local" and not create and not settings.db_path.exists():
            fail(
                f"no workspace at {settings.workspace.resolve()}: run `outreach init` there first, "
                "or pass --workspace DIR (or set OUTREACH_WORKSPACE)"
            )
        state.application = build(settings)
    return state.application


def known_tenant(state: CliState, tenant_id: str, *, allow_global: bool = False) -> str:
    """The tenant id, after checking the tenant exists (or is GLOBAL, where that is meant)."""
    if allow_global and tenant_id == GLOBAL:
        return tenant_id
    try:
        app_for(state).services.records().tenant(tenant_id)
    except NotFoundError as exc:
        fail(str(exc.args[0]))
    return tenant_id


def address(raw: str) -> str:
    """An address an operator typed, in its canonical form; one clear line when it is not one."""
    try:
        return canonical_email(raw)
    except AddressError as exc:
        fail(str(exc))


def fail(message: str, code: int = 1) -> NoReturn:
    # Plain text, one line: user input and validation messages ('^[a-z0-9]...') are not rich markup.
    err.print(Text.assemble(("error:", "red"), " ", message), soft_wrap=True, highlight=False)
    raise typer.Exit(code)
