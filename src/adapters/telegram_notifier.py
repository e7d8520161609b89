"""Alerts to a Telegram chat through the Bot API (`sendMessage` over HTTPS), stdlib only.

The bot token comes from a callable: a fixed value from the settings locally, an SSM Parameter Store
SecureString on AWS (adapters.aws.ssm_parameter). The token is part of the URL path, so it never appears
in a log line or an exception this module raises. The API base URL is configurable, which is how the
tests point it at a local HTTP server standing in for api.telegram.org.
API: https://core.telegram.org/bots/api#sendmessage
"""

from __future__ import annotations

import html
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from outreach_core.ports import Alert

DEFAULT_API_BASE = "https://api.telegram.org"
TEXT_LIMIT = 4096  # characters per message, after entity parsing
_ICON = {"info": "ℹ️", "warning": "⚠️", "critical": "🚨"}


class TelegramError(RuntimeError):
    def __init__(self, message: str, *, status: int | None = None, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


def telegram_text(alert: Alert) -> str:
    """HTML-formatted text (parse_mode=HTML): a bold headline, the message, then the facts."""
    esc = html.escape
    lines = [
        f"{_ICON.get(alert.severity, '')} <b>{esc(alert.kind)}</b> · {esc(alert.subject)}".strip(),
        esc(alert.message),
        "",
        f"tenant: <code>{esc(alert.tenant_id or '-')}</code> · severity: {esc(alert.severity)}",
        f"at: {esc(alert.at.strftime('%Y-%m-%d %H:%M:%S %Z'))}",
    ]
    for key, value in list(alert.details.items())[:12]:
        lines.append(f"{esc(str(key))}: <code>{esc(str(value))[:200]}</code>")
    text = "\n".join(lines)
    if len(text) > TEXT_LIMIT:
        text = html.escape(f"{alert.kind} · {alert.subject}\n{alert.message}")[: TEXT_LIMIT - 1] + "…"
    return text


class TelegramNotifier:
    def __init__(
        self,
        token: Callable[[], str],
        chat_id: str,
        *,
        api_base: str = DEFAULT_API_BASE,
        timeout_s: float = 5.0,
    ) -> None:
        if not chat_id:
            raise ValueError("TelegramNotifier needs a chat id (OUTREACH_TELEGRAM_CHAT_ID)")
        self.token = token
        self.chat_id = chat_id
        self.api_base = api_base.rstrip("/")
        self.timeout_s = timeout_s

    def notify(self, alert: Alert) -> None:
        self.call(
            "sendMessage",
            {
                "chat_id": self.chat_id,
                "text": telegram_text(alert),
                "parse_mode": "HTML",
                "link_preview_options": {"is_disabled": True},
                "disable_notification": alert.severity == "info",
            },
        )

    def call(self, method: str, payload: dict[str, Any]) -> Any:
        """POST a Bot API method; returns its `result` or raises TelegramError (without the token)."""
        token = self.token()
        if not token:
            raise TelegramError("no Telegram bot token configured")
        request = urllib.request.Request(
            f"{self.api_base}/bot{token}/{method}",
            data=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
            headers={"Content-Type": "application/json; charset=utf-8"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                body = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            raise _api_error(method, exc.code, exc.read()) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise TelegramError(
                f"Telegram {method}: cannot reach the Bot API ({type(reason).__name__})"
            ) from None
        if not isinstance(body, dict) or not body.get("ok"):
            raise _api_error(method, 200, json.dumps(body).encode())
        return body.get("result")


def _api_error(method: str, status: int, raw: bytes) -> TelegramError:
    try:
        body = json.loads(raw.decode("utf-8"))
    except ValueError:
        body = {}
    description = str(body.get("description", "")) if isinstance(body, dict) else ""
    parameters = body.get("parameters", {}) if isinstance(body, dict) else {}
    retry_after = parameters.get("retry_after") if isinstance(parameters, dict) else None
    return TelegramError(
        f"Telegram {method} failed: HTTP {status} {description}".strip(),
        status=status,
        retry_after=int(retry_after) if isinstance(retry_after, int) else None,
    )
