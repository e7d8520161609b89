"""What an inbound message is: a person's reply, a request to be left alone, an out-of-office, or other
machine mail. Data and pure functions: the inbound adapter reads the MIME, this decides.

Headers first (RFC 3834 `Auto-Submitted`, `X-Autoreply` / `X-Autorespond`, `Precedence`, Microsoft's
`X-Auto-Response-Suppress`, list headers, `multipart/report`, an empty Return-Path), then the subject,
then - cautiously - the text. A wrong "automatic" verdict would keep mailing a person who answered, so
text alone makes a message automatic only when it is short, opens with an out-of-office phrase and
asks nothing. English and Russian phrasings are known.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from pydantic import BaseModel, ConfigDict

from outreach_core.domain.events import ReplyKind


class ReplyPolicy(BaseModel):
    model_config = ConfigDict(frozen=True)

    auto_reply_pause: timedelta = timedelta(days=2)  # an out-of-office without a return date
    max_pause: timedelta = timedelta(days=45)  # return dates further out are not believed
    resume_margin: timedelta = timedelta(days=1)  # the day after they are back


@dataclass(frozen=True)
class ReplyVerdict:
    kind: ReplyKind
    reason: str
    resume_at: datetime | None = None  # AUTO_REPLY: do not send the next step before this


_I = re.IGNORECASE
_OOO_SUBJECT = re.compile(
    r"\bout of (the )?office\b|\bautomatic reply\b|\bauto[- ]?repl(y|ied)\b|\bauto[- ]?response\b"
    r"|\baway from (the )?office\b|\bon (annual |parental )?(leave|vacation|holiday)\b|\bOOO\b"
    r"|автоответ|автоматический ответ|нет на месте|вне офиса|не в офисе|в отпуске|отсутств|в командировке",
    _I,
)
_OOO_TEXT = re.compile(
    r"\bi(?: am|'m|’m)(?: currently)? (?:out of (?:the )?office|away|on (?:annual |parental )?"
    r"(?:leave|vacation|holiday)|travell?ing)\b"
    r"|\bi will be (?:out of (?:the )?office|away|on (?:leave|vacation))\b"
    r"|\bi will (?:be back|return) on\b|\blimited access to (?:my )?e-?mail\b"
    r"|я (?:нахожусь )?в отпуске|нахожусь в (?:отпуске|командировке)|меня нет в офисе|я вне офиса"
    r"|буду отсутствовать|я отсутствую|ограниченн\w* доступ\w* к (?:почте|электронной почте)",
    _I,
)
_AUTOMATIC_TEXT = re.compile(
    r"\bthis is an? auto(?:matic|mated)(?:ally generated)? (?:reply|response|message)\b"
    r"|это автоматическ\w+ (?:ответ|сообщение)|сообщение сформировано автоматически",
    _I,
)
_UNSUBSCRIBE = re.compile(
    r"\bunsubscribe\b|\bremove me\b|\btake me off\b|\bstop (?:e-?mailing|sending|contacting|writing)\b"
    r"|\bdo not (?:e-?mail|contact|write)\b|\bdon['’]?t (?:e-?mail|contact|write to) me\b"
    r"|\bopt(?:-| )?out\b"
    r"|отпиш|отписа|удалите (?:меня|мой адрес)|уберите меня|не пишите|больше не (?:пишите|присылайте)"
    r"|прекратите (?:рассылку|писать|присылать)",
    _I,
)
_URL = re.compile(r"(?:https?|mailto):\S+", _I)
_FOOTER_LINE = re.compile(r"^\s*(?:unsubscribe|отписаться)\s*:.*$", _I | re.MULTILINE)

_MONTHS_EN = {
    m: i + 1
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ]
    )
    for m in names
}
_MONTHS_RU = {
    name: i + 1
    for i, name in enumerate(
        (
            "января",
            "февраля",
            "марта",
            "апреля",
            "мая",
            "июня",
            "июля",
            "августа",
            "сентября",
            "октября",
            "ноября",
            "декабря",
        )
    )
}
_EN_MONTH = "|".join(sorted(_MONTHS_EN, key=len, reverse=True))
_RU_MONTH = "|".join(_MONTHS_RU)
_DATES = (
    ("iso", re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")),
    ("dotted", re.compile(r"\b(\d{1,2})\.(\d{1,2})(?:\.(\d{2,4}))?\b")),
    (
        "day_month",
        re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_EN_MONTH}|{_RU_MONTH})\b\.?", _I),
    ),
    ("month_day", re.compile(rf"\b({_EN_MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b", _I)),
)


def _month(name: str) -> int:
    key = name.lower().rstrip(".")
    return _MONTHS_EN.get(key) or _MONTHS_RU.get(key, 0)


def _candidates(text: str, today: date) -> list[date]:
    found: list[date] = []
    for kind, pattern in _DATES:
        for match in pattern.finditer(text):
            groups = match.groups()
            try:
                if kind == "iso":
                    found.append(date(int(groups[0]), int(groups[1]), int(groups[2])))
                    continue
                if kind == "dotted":
                    day, month, year = int(groups[0]), int(groups[1]), groups[2]
                elif kind == "day_month":
                    day, month, year = int(groups[0]), _month(groups[1]), None
                else:
                    day, month, year = int(groups[1]), _month(groups[0]), None
                if year is None:
                    guess = date(today.year, month, day)
                    found.append(guess if guess >= today else date(today.year + 1, month, day))
                else:
                    full = int(year) + (2000 if len(year) == 2 else 0)
                    found.append(date(full, month, day))
            except ValueError:
                continue  # 31.02, a version number, a time like 10.30: not a date
    return found


def return_date(text: str, received_at: datetime, policy: ReplyPolicy) -> datetime | None:
    """The latest plausible 'back on' date in an out-of-office text, as the moment to resume."""
    today = received_at.astimezone(UTC).date()
    horizon = (received_at + policy.max_pause).astimezone(UTC).date()
    plausible = [d for d in _candidates(text, today) if today <= d <= horizon]
    if not plausible:
        return None
    return datetime.combine(max(plausible), time(0), tzinfo=UTC) + policy.resume_margin


def _header_signal(headers: Mapping[str, str]) -> tuple[str, bool] | None:
    """(why, says-out-of-office) when the headers mark the message as machine-sent."""
    if "multipart/report" in headers.get("content-type", "").lower():
        return "a delivery or read report (multipart/report)", False
    auto = headers.get("auto-submitted", "").strip().lower()
    if auto and not auto.startswith("no"):
        return f"Auto-Submitted: {auto[:40]}", auto.startswith("auto-replied")
    for name in ("x-autoreply", "x-autorespond", "x-autoresponder"):
        if headers.get(name, "").strip():
            return f"{name}: {headers[name].strip()[:40]}", True
    precedence = headers.get("precedence", "").strip().lower()
    if precedence == "auto_reply":
        return "Precedence: auto_reply", True
    if precedence in ("bulk", "junk", "list"):
        return f"Precedence: {precedence}", False
    suppress = headers.get("x-auto-response-suppress", "").lower()
    if "oof" in suppress or "all" in suppress:
        return f"X-Auto-Response-Suppress: {suppress[:40]}", False
    if headers.get("list-id", "").strip() or headers.get("list-unsubscribe", "").strip():
        return "mailing-list traffic (List-Id / List-Unsubscribe)", False
    if headers.get("return-path", "").strip() == "<>":
        return "empty Return-Path (RFC 3834)", False
    return None


def classify(
    headers: Mapping[str, str],
    subject: str,
    text: str,
    received_at: datetime,
    policy: ReplyPolicy | None = None,
) -> ReplyVerdict:
    """Decide what an inbound message is. `headers` has lower-cased names."""
    policy = policy or ReplyPolicy()
    lowered = {k.lower(): v for k, v in headers.items()}
    ooo_subject = bool(_OOO_SUBJECT.search(subject))
    ooo_text = bool(_OOO_TEXT.search(text) or _AUTOMATIC_TEXT.search(text))
    signal = _header_signal(lowered)
    if signal is not None:
        why, out_of_office = signal
        if out_of_office or ooo_subject or ooo_text:
            return _auto_reply(why, subject, text, received_at, policy)
        return ReplyVerdict(ReplyKind.AUTOMATED, why)
    if ooo_subject:
        return _auto_reply(f"out-of-office subject {subject[:60]!r}", subject, text, received_at, policy)
    opening = text.strip()[:300]
    if _AUTOMATIC_TEXT.search(text) or (
        _OOO_TEXT.search(opening) and len(text.strip()) < 700 and "?" not in text
    ):
        return _auto_reply("out-of-office text", subject, text, received_at, policy)
    cleaned = _URL.sub(" ", _FOOTER_LINE.sub(" ", text))
    if _UNSUBSCRIBE.search(cleaned) or _UNSUBSCRIBE.search(subject):
        return ReplyVerdict(ReplyKind.UNSUBSCRIBE, "asks to be removed")
    return ReplyVerdict(ReplyKind.HUMAN, "a person's reply")


def _auto_reply(
    why: str, subject: str, text: str, received_at: datetime, policy: ReplyPolicy
) -> ReplyVerdict:
    back = return_date(f"{subject}\n{text}", received_at, policy)
    return ReplyVerdict(ReplyKind.AUTO_REPLY, why, back or received_at + policy.auto_reply_pause)
