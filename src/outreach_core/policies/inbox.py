"""Inbox categories: rule-based and deterministic, English and Russian. Data and pure functions.

The reply rules (policies.replies) first say whether a person wrote at all; for a person's reply these
rules then say what they meant, most specific first: asks to be removed, wrong person / referral, not
interested, interested. A reply none of them fits is `other` (a person reads it; the sequence stops
as for any reply). Out-of-office and bounce reports come from the reply rules and the DSN reader.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from outreach_core.domain.events import ReplyKind
from outreach_core.domain.inbox import InboxCategory, InboxEffect

_I = re.IGNORECASE
_WRONG_PERSON = re.compile(
    r"\b(?:not|no longer) (?:the )?(?:right|best|correct|appropriate) (?:person|contact)\b"
    r"|\bi(?:'m| am) not (?:the (?:right|best) (?:person|contact)|responsible for|in charge of)\b"
    r"|\b(?:no longer|not) (?:with|at|working (?:at|for)) (?:the company|this company|[A-Z]\w+)\b"
    r"|\bhas left the company\b|\bleft the company\b|\bno longer works? (?:here|at|for)\b"
    r"|\b(?:please )?(?:reach out|talk|speak|write) to (?:my colleague|[A-Z][a-z]+)\b"
    r"|\byou should (?:contact|talk to|reach out to)\b|\bbetter (?:contact|person (?:is|would be))\b"
    r"|\b(?:cc(?:'d|ed)?|copying|looping in|forwarded (?:this|your email) to)\b.{0,40}\b(?:who|colleague)\b"
    r"|не (?:по адресу|ко мне|занимаюсь этим|отвечаю за)|я не (?:занимаюсь|отвечаю за|тот человек)"
    r"|обратитесь к|напишите (?:моему коллеге|коллеге)|(?:больше )?не работаю в|уволил(?:ся|ась)"
    r"|переслал(?:а)? (?:ваше письмо|коллеге)|правильный контакт|ответственн\w+ (?:за это|является)",
    _I,
)
_NOT_INTERESTED = re.compile(
    r"\bnot (?:interested|a (?:good )?fit|relevant|for us|looking)\b|\bno,? thanks?\b|\bno thank you\b"
    r"|\bwe(?:'re| are) (?:all )?(?:set|good|covered|happy with)\b|\bnot (?:at )?this time\b"
    r"|\bno (?:need|budget|interest)\b|\bpass(?:ing)? on this\b|\bdon'?t need\b|\bwe already (?:have|use)\b"
    r"|\bnot right now\b|\bnot now\b|\bplease don'?t follow up\b"
    r"|не интересно|неинтересно|не интересует|нам (?:это )?не (?:нужно|надо|интересно)|не актуально"
    r"|спасибо,? не надо|нет,? спасибо|у нас уже есть|не требуется|не рассматриваем|откажемся",
    _I,
)
_INTERESTED = re.compile(
    r"\binterest(?:ed|ing)\b|\bcan we (?:talk|chat|meet|speak|set up|schedule|discuss)\b"
    r"|\b(?:let'?s|happy to|glad to|would love to|keen to|open to) "
    r"(?:talk|chat|connect|meet|speak|hop on|jump on|learn more|discuss|see)\b"
    r"|\b(?:book|schedule|set up|arrange) (?:a |some )?"
    r"(?:call|meeting|time|demo|chat)\b|\bsend (?:me|us|over) (?:more|some|the|a)\b|\bsounds (?:good|great|"
    r"interesting)\b|\bcan you send\b|\bwhat (?:is|are) (?:the|your) (?:price|pricing|cost|rates?)\b"
    r"|\bhow much\b|\btell me more\b|\bwhen (?:are you|can we|would you be) (?:free|available)\b"
    r"|\bavailable (?:on|next|this|tomorrow)\b|\bcalendar\b|\bdemo\b"
    r"|интересно|интересует|давайте (?:созвонимся|обсудим|встретимся|поговорим)|созвон|пришлите|"
    r"расскажите подробнее|сколько стоит|какая цена|стоимость|можем обсудить|готов(?:ы)? обсудить|"
    r"удобно (?:созвониться|поговорить)|когда (?:вам )?удобно|запланир",
    _I,
)
# A negation in front of "interested" / "интересно" is the not-interested rule's (checked first).


@dataclass(frozen=True)
class Categorised:
    category: InboxCategory
    reason: str


def categorise(kind: ReplyKind, subject: str, text: str) -> Categorised:
    """The category of an inbound message the reply rules gave `kind`."""
    if kind is ReplyKind.UNSUBSCRIBE:
        return Categorised(InboxCategory.UNSUBSCRIBE, "asks to be removed")
    if kind is ReplyKind.AUTO_REPLY:
        return Categorised(InboxCategory.OUT_OF_OFFICE, "an automatic reply (out of office)")
    if kind is ReplyKind.AUTOMATED:
        return Categorised(InboxCategory.OTHER, "machine mail (no person wrote it)")
    body = f"{subject}\n{text}"
    for category, pattern, why in (
        (InboxCategory.WRONG_PERSON, _WRONG_PERSON, "not the right person, or a referral"),
        (InboxCategory.NOT_INTERESTED, _NOT_INTERESTED, "declines"),
        (InboxCategory.INTERESTED, _INTERESTED, "shows interest"),
    ):
        match = pattern.search(body)
        if match:
            return Categorised(category, f"{why}: {match.group(0).strip()[:60]!r}")
    return Categorised(InboxCategory.OTHER, "a person's reply the rules cannot place")


def effect_of(category: InboxCategory, kind: ReplyKind | None) -> InboxEffect:
    """What the category does. `other` stops the sequence when a person wrote it, and does nothing
    for machine mail."""
    match category:
        case InboxCategory.UNSUBSCRIBE | InboxCategory.BOUNCE:
            return InboxEffect.SUPPRESS
        case InboxCategory.OUT_OF_OFFICE:
            return InboxEffect.POSTPONE
        case InboxCategory.OTHER:
            return InboxEffect.STOP if kind is ReplyKind.HUMAN else InboxEffect.NONE
        case _:
            return InboxEffect.STOP
