"""What travels on the job queue, and small helpers shared by the planner and the sender."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class JobMessage(BaseModel):
    """A queue message names a job; the job's state lives in the store (the message can be stale)."""

    model_config = ConfigDict(frozen=True)

    tenant_id: str
    job_id: str

    def dump(self) -> str:
        return self.model_dump_json()

    @classmethod
    def load(cls, body: str) -> JobMessage:
        return cls.model_validate_json(body)


def day_key(at: datetime) -> str:
    """The UTC day a daily counter belongs to."""
    return at.strftime("%Y-%m-%d")
