"""The CLI's conventions, applied to every command of every group rather than repeated in each:
metavars that say what a value is (`--daily-cap N`, `--timezone TZ`, `TENANT`; flags take none) and
groups that show their help when called bare. Each group is made by `group()`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args, get_origin

import typer
from typer.core import TyperArgument, TyperGroup, TyperOption

_BY_NAME = {
    "tenant": "TENANT", "tenant_id": "TENANT", "campaign": "CAMPAIGN", "campaign_id": "CAMPAIGN",
    "identity": "IDENTITY", "identity_id": "IDENTITY", "template_id": "TEMPLATE", "direction": "DIRECTION",
    "direction_id": "DIRECTION", "email": "EMAIL", "to": "EMAIL", "reply_to": "EMAIL", "timezone": "TZ",
    "start": "HH:MM", "end": "HH:MM", "days": "DAYS", "since": "DATE", "day": "YYYY-MM-DD",
    "privacy_url": "URL", "message_id": "ID", "job_id": "JOB", "domain": "DOMAIN", "selector": "SELECTOR",
    "provider": "PROVIDER", "lead_list": "LIST", "older_than": "AGE", "mail_from": "DOMAIN",
    "smtp_host": "HOST", "encoding": "ENCODING", "actor": "WHO", "workspace": "DIR",
}  # fmt: skip


def _base(annotation: Any) -> Any:
    """int from `int`, `int | None` or `list[int] | None`."""
    args = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) in (list, tuple) or (args and len(args) == 1):
        return _base(args[0]) if args else annotation
    return annotation


def _metavar(param: Any) -> str:
    name = param.name or ""
    desc = param.type_descriptor
    if desc.is_choice and desc.choices:
        return "|".join(str(getattr(c, "value", c)) for c in desc.choices)
    if name in _BY_NAME:
        return _BY_NAME[name]
    base = _base(desc.annotation)
    if base is int:
        return "N"
    if base is float:
        return "NUMBER"
    if desc.is_path or base is Path:
        return "FILE" if "file" in name or name in ("out", "chart", "scenario", "summary_json") else "PATH"
    return name.removesuffix("_id").upper() if isinstance(param, TyperArgument) else "TEXT"


def apply(command: Any) -> Any:
    """Give every parameter of `command` a metavar, once; flags show none (not `<bool>`)."""
    if getattr(command, "_conventions", False):
        return command
    for param in command.params:
        _fix(param)
    original = command.get_params

    def get_params(ctx: Any) -> Any:  # the --help option is made here, not in .params
        params = original(ctx)
        for param in params:
            _fix(param)
        return params

    command.get_params = get_params
    command._conventions = True
    return command


def _fix(param: Any) -> None:
    if isinstance(param, TyperArgument):
        param.display_type_rich = lambda ctx: None  # type: ignore[method-assign]  # the metavar says it
    if param.metavar is not None:
        return
    if isinstance(param, TyperOption) and (param.is_flag or param.count):
        param.metavar = ""
    else:
        param.metavar = _metavar(param)


class ConventionGroup(TyperGroup):
    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        return apply(command) if command is not None else None

    def get_params(self, ctx: Any) -> Any:
        params = super().get_params(ctx)
        for param in params:
            _fix(param)
        return params


def group(help: str, **options: Any) -> typer.Typer:
    return typer.Typer(help=help, no_args_is_help=True, cls=ConventionGroup, **options)


__all__ = ["ConventionGroup", "apply", "group"]
