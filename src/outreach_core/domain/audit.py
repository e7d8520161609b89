"""Audit entries: who did what, when and why. Append-only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AuditEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    tenant_id: str
    at: datetime
    actor: str = Field(description="'system:<service>' for automatic actions, else the operator")
    action: str
    target: str
    reason: str = ""
    details: dict[str, Any] = Field(default_factory=dict)
