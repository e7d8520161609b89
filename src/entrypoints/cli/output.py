"""One way to print: a table for people (readable at 80 columns), or --json for programs.

Every list and status command takes `--json` (JsonFlag) and prints a JSON array or object on stdout,
nothing else: logs go to stderr. Tables fold long cells instead of cutting them to `acme/…`, so an id is
never lost at 80 columns.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from enum import Enum
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table

console = Console()

JsonFlag = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]


def _default(value: object) -> object:
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json")
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, Mapping):  # a stored document (ports.JsonDocument) as the object it holds
        return dict(value)
    return str(value)


def emit_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=_default))


def table(
    *columns: str,
    title: str | None = None,
    numeric: Iterable[str] = (),
    compact: bool = False,
    whole: Iterable[str] = (),
) -> Table:
    """A table whose cells fold rather than vanish into an ellipsis when the terminal is narrow; its
    first column (the id) and the `whole` ones are never broken. `compact`: no vertical rules."""
    right = set(numeric)
    keep = {*columns[:1], *whole}
    grid = Table(
        title=title,
        title_justify="left",
        expand=False,
        box=box.SIMPLE_HEAD if compact else box.HEAVY_HEAD,
        padding=(0, 1),
        # compact: two spaces between columns, none at the edges, so that ordinary ids fit 80 columns
        pad_edge=not compact,
        collapse_padding=compact,
    )
    for name in columns:
        grid.add_column(
            name, overflow="fold", justify="right" if name in right else "left", no_wrap=name in keep
        )
    return grid


def rows_json(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> list[dict[str, object]]:
    return [dict(zip(columns, row, strict=True)) for row in rows]


def when(at: datetime | None) -> str:
    return f"{at:%Y-%m-%d %H:%M}" if at else "-"
