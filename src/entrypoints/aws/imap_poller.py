"""Lambda: EventBridge Scheduler -> read every connected mailbox once (SMTP identities' replies and
bounces), through the same reply, feedback and inbox services as the rest. `{"tenant": "acme"}` as the
schedule's input limits a run to one tenant. Secrets come from SSM (ssm: references).

A mailbox that cannot be read is reported (and logged) and the others go on; the run fails only when
none could be read, so the schedule's retry policy tries again.
"""

from __future__ import annotations

from typing import Any

import structlog

from entrypoints.aws.runtime import application, invocation
from entrypoints.container import imap_poller

poller = imap_poller(application)
log = structlog.get_logger(__name__)


@invocation
def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    report = poller.poll_all(event.get("tenant") if isinstance(event, dict) else None)
    for error in report.errors:
        log.error("imap_poller.mailbox_failed", reason=error)
    if report.errors and len(report.errors) == report.mailboxes:
        raise RuntimeError(
            f"no mailbox could be read ({len(report.errors)} failed; first: {report.errors[0]})"
        )
    return {
        "mailboxes": report.mailboxes,
        "fetched": report.fetched,
        "replies": report.replies,
        "bounces": report.bounces,
        "ignored": report.ignored,
        "failed": len(report.errors),
    }
