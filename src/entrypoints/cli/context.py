"""Shared CLI plumbing: the settings of this invocation and the application built from them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NoReturn

import typer
from rich.console import Console

from entrypoints.container import Application, build
from entrypoints.settings import Settings

err = Console(stderr=True)


@dataclass
class CliState:
    settings: Settings
    verbose: bool = False
    application: Application | None = field(default=None)


def app_for(state: CliState) -> Application:
    if state.application is None:
        state.application = build(state.settings)
    return state.application


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)
