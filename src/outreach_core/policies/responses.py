"""What a provider's answer means for us: decided once, here, from the raw facts an adapter hands over.

Adapters (the SMTP mailer, the SES API mailer, SES bounce and delay events, DSNs later) report the
reply as it came: basic code, enhanced status, text, the stage it came at and where it came from. This
module alone turns that into a class, and each class into one effect (docs/policies.md §6).

Precedence: the text decides where it is specific, because codes are used loosely ("no such user"
under 5.7.1 is a hard bounce, "receive limit exceeded" under 452 a rate limit, "temporary system
problem" under 421 transient). The rules are a table, most specific cause first: authentication,
rate, mailbox full, sender address, recipient, message content, sender reputation, transient.
Without a matching text the enhanced status decides, then the basic code. Then the reply's
permanence bounds the class: a 4xx (or a 4.x.x status without a code) is never a bounce and never a
block, whatever the text says; it can only slow us down or wait. tests/corpus/replies holds the
real replies each rule exists for.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

_ENHANCED = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_BASIC = re.compile(r"^\s*(?:smtp;\s*)?([245]\d\d)\b")
# A multi-line reply as smtplib joins it ("5.1.1 The email account ...\n5.1.1 double-checking ..."),
# or as a DSN quotes it ("550-5.1.1 ...\n550 5.1.1 ..."): the prefixes repeat on every line.
_LINE_PREFIX = re.compile(r"^\s*(?:[245]\d\d[ -])?(?:[245]\.\d{1,3}\.\d{1,3}\s+)?", re.MULTILINE)


class ResponseClass(StrEnum):
    RATE_LIMIT = "rate_limit"  # slow down at that provider (one AIMD cut); retry; never suppress
    TRANSIENT = "transient"  # the receiver cannot take it now (busy, greylisting): retry, no rate cut
    MAILBOX_FULL = "mailbox_full"  # the soft-bounce rule: retry hours apart, then give up (5xx: suppress)
    HARD_BOUNCE = "hard_bounce"  # the address is bad or gone: suppress the recipient
    SENDER_BLOCK = "sender_block"  # our reputation is refused: pause the identity at that provider
    CONTENT = "content_rejected"  # the message itself is refused (size, virus, format): fix it, alert
    AUTH_FAILURE = "auth_failure"  # SPF / DKIM / DMARC / TLS / PTR: our configuration; alert, never suppress
    UNKNOWN = "unknown"  # nothing specific: conservative (no suppression, no pause, no rate cut)


class ReplyOrigin(StrEnum):
    MTA = "mta"  # a receiving mail server's SMTP reply (directly, or quoted in a DSN / SES event)
    API = "api"  # the sending API's own answer about our account (SES throttling, rejection)


class ProviderReply(BaseModel):
    """The raw facts of one refusal, as an adapter reports them. Any field may be missing."""

    model_config = ConfigDict(frozen=True)

    code: int | None = None  # basic SMTP code (421, 550, ...)
    status: str = ""  # enhanced status code (5.1.1)
    text: str = ""
    stage: str = ""  # connect | MAIL FROM | RCPT TO | DATA | end of DATA | "" (not known)
    origin: ReplyOrigin = ReplyOrigin.MTA
    api_hint: str = ""  # API origin only: what the API's error code says (throttled | rejected | unavailable)


@dataclass(frozen=True)
class Verdict:
    cls: ResponseClass
    permanent: bool  # 5xx: resending the same message will not succeed; 4xx: it may later
    rule: str  # which rule decided: a text rule's name, "status x.y.z" or "code nnn"
    origin: ReplyOrigin = ReplyOrigin.MTA


def _rx(*alternatives: str) -> str:
    return "|".join(alternatives)


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


@dataclass(frozen=True)
class _Rule:
    """`pattern` is compiled on the first response that reaches it (~20 ms for all rules): a sender
    whose sends succeed never classifies anything."""

    name: str
    cls: ResponseClass
    pattern: str

    def found_in(self, text: str) -> bool:
        return _compiled(self.pattern).search(text) is not None


# Most specific cause first: the first rule whose pattern is found decides.
_RULES: tuple[_Rule, ...] = (
    _Rule(
        "authentication",
        ResponseClass.AUTH_FAILURE,
        _rx(
            r"unauthenticated",
            r"authentication level",
            r"authenticat\w* checks",
            r"authenticate with either spf or dkim",
            r"must pass either spf or dkim",
            r"\bdmarc\b",
            r"\b(?:spf|dkim)\b(?!\s+domain)",  # not Gmail's "unusual rate ... from your DKIM domain"
            r"sender policy framework",
            r"\b5\.7\.(?:2[3-7]|509|515)\b",
            r"\b4\.7\.(?:2[3-7]|29|3[0-2])\b",
            r"tls (?:is )?required",
            r"requires (?:encryption|tls)",
            r"\bptr record",
            r"reverse (?:dns|hostname)",
            r"cannot find your (?:reverse )?hostname",
            r"not authenticated to send",
            r"\bnot verified\b",
            r"unresolvable rfc.?5321 from",
            r"sender address rejected: domain not found",
            r"helo command rejected",
        ),
    ),
    _Rule(
        "rate",
        ResponseClass.RATE_LIMIT,
        _rx(
            r"rate[ -]limit",
            r"receive limit",
            r"\b5\.2\.12[12]\b",
            r"\b4\.7\.28\b",
            r"too many (?:recipients|connections|concurrent)",
            r"too many messages(?! on the server)",
            r"receiving (?:e-?mail|mail) (?:too quickly|at a rate)",
            r"mail too quickly",
            r"(?:sending )?rate exceeded",
            r"daily message quota",
            r"daily (?:user sending|smtp relay) limit",
            r"peak smtp relay limit",
            r"exceeded permitted limits",
            r"throttl",
            r"temporarily deferred",
            r"deferred due to (?:excessive|unexpected) volume",
            r"unexpected volume",
            r"excessive volume",
            r"\[TSS?0[1-8]\]",
            r"\bRP-00\d\b",
            r"\[GL01\]",
            r"access denied, please try again later",
            r"slow down",
        ),
    ),
    _Rule(
        "mailbox full",
        ResponseClass.MAILBOX_FULL,
        _rx(
            r"\b[45]\.2\.2\b",
            r"over ?quota",
            r"quota (?:limit )?exceeded",
            r"exceeded (?:its|their|the) (?:storage|quota)",
            r"out of storage",
            r"storage space",
            r"exhausted allowed storage",
            r"mailbox (?:size )?(?:limit )?exceeded",
            r"mailbox (?:is )?full",
            r"too many (?:mails|messages) on the server",
        ),
    ),
    _Rule(
        "sender address",
        ResponseClass.SENDER_BLOCK,
        _rx(
            r"sender (?:e-?mail )?(?:address|domain)",
            r"envelope[- ]from",
            r"mail from (?:address|domain)",
            r"sender verif(?:y|ication) failed",
        ),
    ),
    _Rule(
        "recipient",
        ResponseClass.HARD_BOUNCE,
        _rx(
            r"user unknown",
            r"unknown user",
            r"user is unknown",
            r"unknown recipient",
            r"no such (?:user|recipient|mailbox|address)",
            r"user not found",
            r"user does not exist",
            r"does not exist",
            r"doesn'?t have an? \S+ account",
            r"invalid (?:mailbox|recipient|address)",
            r"mailbox (?:not found|unavailable|does not exist)",
            r"mailbox is disabled",
            r"(?:account|mailbox) (?:is |has been )?(?:disabled|discontinued|closed)",
            r"user is terminated",
            r"is no longer valid",
            r"\bis inactive\b",
            r"inactive (?:email address|account|mailbox)",
            r"recip(?:ient)?notfound",
            r"recipient address rejected",
            r"recipient not found",
            r"recipient no longer on server",
            r"addressee unknown",
            r"unknown (?:local part|or illegal alias)",
            r"no mailbox here",
            r"unrouteable address",
            r"bad (?:recipient address|address mailbox|destination mailbox) (?:syntax)?",
            r"no correct recipients",
            r"not a valid rfc ?5321 address",
            r"find the recipient domain",
            r"policy rejection on the target address",
            r"customer block ?list",
            r"user or domain that you are sending to .{0,20}has a policy",
            r"relay (?:access denied|not permitted)",
            r"unable to relay",
            r"resolver\.rst\.(?:authrequired|notauthorized)",
            r"non-?existent domain",
        ),
    ),
    _Rule(
        "message content",
        ResponseClass.CONTENT,
        _rx(
            r"message (?:size|length) exceeds",
            r"message (?:is )?too (?:big|large|long)",
            r"maximum (?:email|message) size",
            r"\bvirus\b",
            r"malware",
            r"banned content",
            r"content examination",
            r"message content rejected",
            r"rfc ?5322",
            r"encoded-word syntax",
            r"invalid (?:mime|characters|message content)",
            r"mail loop",
            r"not rfc ?5322 compliant",
            r"missing a valid",
            r"headers? (?:field )?(?:are|is) not accepted",
            r"nature of the content",
            r"potential security issue",
        ),
    ),
    _Rule(
        "sender reputation",
        ResponseClass.SENDER_BLOCK,
        _rx(
            r"unsolicited",
            r"\bspam\b",
            r"blocked by spam statistics",
            r"client host \S* ?blocked",
            r"reputation",
            r"\bS3150\b",
            r"banned (?:sending ip|sender)",
            r"traffic not accepted",
            r"tenant has exceeded threshold",
            r"\[TSS(?:09|11)\]",
            r"\[BL2\d\]",
            r"\[CS0\d\]",
            r"spamhaus",
            r"block ?list(?:ed)?",
            r"black ?list(?:ed)?",
            r"\bdnsbl\b",
            r"\brbl\b",
            r"not accepted for policy reasons",
            r"\[PH01\]",
            r"\b(?:SC|OU|DY)-00\d\b",
            r"message sending for this account is disabled",
            r"sender (?:address )?(?:rejected|blocked)",
            r"\bblocked - see\b",
            r"local policy",
            r"policy violation",
            r"administrative prohibition",
            r"anti-spoofing",
            r"rejected by recipient",
            r"not accepting connections",
            r"client blocked",
            r"policy restrictions",
            r"rejected by destination domain",
            r"envelope (?:blocked|rejected)",
        ),
    ),
    _Rule(
        "transient",
        ResponseClass.TRANSIENT,
        _rx(
            r"server busy",
            r"(?:agent|mailbox|system|server) (?:is )?busy",
            r"try (?:again )?later",
            r"please try again",
            r"temporar(?:y|ily) (?:system problem|local problem|failure|error|unavailable|rejected)",
            r"temporary system error",
            r"(?:service|server|system) (?:is )?(?:currently |temporarily )?(?:not )?(?:un)?available",
            r"greylist",
            r"graylist",
            r"come back later",
            r"local error in processing",
            r"resources? (?:are )?temporarily unavailable",
            r"insufficient system (?:storage|resources)",
            r"connection (?:timed out|dropped)",
            r"timeout",
            r"unable to process",
            r"temporarily unavailable",
            r"max(?:imum)? (?:number of )?messages? per connection",
        ),
    ),
)

# A class reached under a temporary reply: a 4xx is never a bounce and never a block (design.md §4.7).
_TEMPORARY: dict[ResponseClass, ResponseClass] = {
    ResponseClass.HARD_BOUNCE: ResponseClass.TRANSIENT,
    ResponseClass.SENDER_BLOCK: ResponseClass.RATE_LIMIT,  # a temporary block about us is a throttle
    ResponseClass.UNKNOWN: ResponseClass.TRANSIENT,
}
# Stages before the recipient is named: a refusal there is about us, not the address.
_SENDER_STAGES = frozenset({"connect", "MAIL FROM", "AUTH"})


def enhanced_status(text: str) -> str:
    match = _ENHANCED.search(text)
    return ".".join(match.groups()) if match else ""


def basic_code(text: str) -> int | None:
    match = _BASIC.search(text)
    return int(match.group(1)) if match else None


def normalised_text(text: str) -> str:
    """One line: the repeated code and status prefixes of a multi-line reply dropped."""
    lines = [_LINE_PREFIX.sub("", line, count=1).strip() for line in text.splitlines()]
    return " ".join(line for line in lines if line)


def classify(reply: ProviderReply) -> Verdict:
    """The class of one refusal (see the module docstring for the precedence)."""
    text = reply.text or ""
    status = reply.status or enhanced_status(text)
    code = reply.code or basic_code(text)
    temporary = (code is not None and 400 <= code < 500) or (code is None and status.startswith("4."))
    flat = normalised_text(text)
    subject = f"{status} {flat}" if status else flat
    rule = next((r for r in _RULES if r.found_in(subject)), None)
    if rule is not None:
        cls, name = rule.cls, rule.name
    elif reply.origin is ReplyOrigin.API:
        cls, name = _by_api_hint(reply.api_hint), f"api {reply.api_hint or 'error'}"
    else:
        cls, name = _by_status(status, code)
    if reply.origin is ReplyOrigin.API:
        # The API's own answer: "throttled" is about our account's rate, whatever its wording.
        temporary = reply.api_hint in ("throttled", "unavailable") or cls is ResponseClass.RATE_LIMIT
    if reply.stage in _SENDER_STAGES and cls is ResponseClass.HARD_BOUNCE:
        cls, name = ResponseClass.SENDER_BLOCK, f"{name} at {reply.stage}"
    if temporary:
        cls = _TEMPORARY.get(cls, cls)
    return Verdict(cls=cls, permanent=not temporary, rule=name, origin=reply.origin)


def _by_api_hint(hint: str) -> ResponseClass:
    return {
        "throttled": ResponseClass.RATE_LIMIT,
        "unavailable": ResponseClass.TRANSIENT,
    }.get(hint, ResponseClass.UNKNOWN)


def _by_status(status: str, code: int | None) -> tuple[ResponseClass, str]:
    """No text rule matched: the enhanced status, then the basic code."""
    if status:
        name = f"status {status}"
        klass, subject, detail = status.split(".")
        if subject == "1" and detail in ("7", "8"):
            return ResponseClass.SENDER_BLOCK, name  # our own sender address or domain is refused
        if subject == "2" and detail == "2":
            return ResponseClass.MAILBOX_FULL, name
        if klass == "4":
            return ResponseClass.TRANSIENT, name  # "later", and nothing said about our rate
        if subject == "1" or status in ("5.2.1", "5.4.1", "5.4.4"):
            return ResponseClass.HARD_BOUNCE, name
        if status in ("5.2.3", "5.3.4") or subject == "6":
            return ResponseClass.CONTENT, name
        if subject == "7":
            return ResponseClass.SENDER_BLOCK, name
        return ResponseClass.UNKNOWN, name
    if code is not None and 400 <= code < 500:
        return ResponseClass.TRANSIENT, f"code {code}"
    return ResponseClass.UNKNOWN, f"code {code}" if code else "no code"


# --- what each class does ------------------------------------------------------------------------


class Retry(StrEnum):
    NONE = "none"  # the job ends
    SLOWER = "slower"  # back to the queue without counting an attempt (the rate cut does the pacing)
    LATER = "later"  # back to the queue with backoff, counting an attempt (dead letter when exhausted)
    SOFT = "soft"  # the soft-bounce rule: hours apart, counting attempts, then the job ends
    ELSEWHERE = "elsewhere"  # at once, uncounted: another identity sends it, or the pause runs out


@dataclass(frozen=True)
class Effect:
    retry: Retry
    rate_cut: bool = False  # one AIMD cut of the identity at that provider (never more per reply)
    suppress: bool = False  # suppress the recipient now
    suppress_when_exhausted: bool = False  # the soft-bounce rule's last attempt suppresses
    pause_at_provider: bool = False  # pause the identity at the receiving provider
    alert: str = ""  # alert kind (telemetry.ALERT_KINDS), "" for none
    counts_as_bounce: bool = False  # toward the auto-stop bounce windows


def effect_of(verdict: Verdict) -> Effect:
    """The one effect of a verdict on the synchronous (SMTP / API) path."""
    permanent = verdict.permanent
    match verdict.cls:
        case ResponseClass.RATE_LIMIT:
            # An API throttle is our account's rate: the account limiter is there for it, and no
            # identity's rate would fix it.
            return Effect(Retry.SLOWER, rate_cut=verdict.origin is ReplyOrigin.MTA)
        case ResponseClass.TRANSIENT:
            return Effect(Retry.LATER)
        case ResponseClass.MAILBOX_FULL:
            return Effect(Retry.SOFT, suppress_when_exhausted=permanent)
        case ResponseClass.HARD_BOUNCE:
            return Effect(Retry.NONE, suppress=True, counts_as_bounce=True)
        case ResponseClass.SENDER_BLOCK:
            return Effect(Retry.ELSEWHERE, pause_at_provider=True)
        case ResponseClass.CONTENT:
            return Effect(Retry.NONE if permanent else Retry.LATER, alert="content.rejected")
        case ResponseClass.AUTH_FAILURE:
            if permanent:
                return Effect(Retry.ELSEWHERE, pause_at_provider=True, alert="identity.auth_failed")
            return Effect(Retry.LATER, alert="identity.auth_failed")
        case _:
            return Effect(Retry.NONE if permanent else Retry.LATER)


# --- SES bounce events ---------------------------------------------------------------------------

# Bounces SES reports for addresses it never attempted (its own lists): suppress, but they say
# nothing about this campaign's list or our reputation, so they do not count toward auto-stop rates.
NEVER_ATTEMPTED = frozenset({"OnAccountSuppressionList", "OnTenantSuppressionList"})
_SES_TRANSIENT = {
    "MailboxFull": ResponseClass.MAILBOX_FULL,
    "MessageTooLarge": ResponseClass.CONTENT,
    "ContentRejected": ResponseClass.CONTENT,
    "AttachmentRejected": ResponseClass.CONTENT,
}


@dataclass(frozen=True)
class BounceVerdict:
    """An SES Bounce record's class and what it does (the asynchronous path)."""

    cls: ResponseClass
    rule: str
    suppress: bool = False  # a hard bounce: suppress the recipient now
    soft_bounce: bool = False  # counts toward the address's soft-bounce rule (suppress at N)
    counts_as_bounce: bool = False  # toward the auto-stop bounce windows
    rate_cut: bool = False
    pause_at_provider: bool = False
    alert: str = ""


def classify_bounce(bounce_type: str, subtype: str, status: str = "", diagnostic: str = "") -> BounceVerdict:
    """An SES Bounce (bounceType, bounceSubType, the recipient's status and diagnosticCode).

    Permanent bounces SES attempted count toward the auto-stop rates whatever their class, as SES
    counts them toward the account's; only hard bounces suppress. A Transient bounce is SES giving
    up after hours of retries: mailbox-full and unexplained ones feed the soft-bounce rule."""
    by_subtype = _bounce_by_subtype(bounce_type, subtype)
    if by_subtype is not None:
        return by_subtype
    if bounce_type not in ("Permanent", "Transient"):
        return BounceVerdict(ResponseClass.UNKNOWN, f"type {bounce_type or 'missing'}")
    permanent = bounce_type == "Permanent"
    if not (diagnostic or status):
        if permanent:
            return BounceVerdict(
                ResponseClass.HARD_BOUNCE, "type Permanent", suppress=True, counts_as_bounce=True
            )
        return BounceVerdict(ResponseClass.TRANSIENT, "type Transient", soft_bounce=True)
    verdict = classify(ProviderReply(status=status, text=diagnostic))
    base = BounceVerdict(verdict.cls, verdict.rule, counts_as_bounce=permanent)
    match verdict.cls:
        case ResponseClass.HARD_BOUNCE:
            return replace(base, suppress=verdict.permanent, soft_bounce=not verdict.permanent)
        case ResponseClass.RATE_LIMIT:
            return replace(base, rate_cut=True)
        case ResponseClass.SENDER_BLOCK:
            return replace(base, pause_at_provider=True)
        case ResponseClass.AUTH_FAILURE:
            return replace(base, pause_at_provider=True, alert="identity.auth_failed")
        case ResponseClass.CONTENT:
            return replace(base, alert="content.rejected")
        case _:  # mailbox full, transient, unknown: SES gave up on the address
            return replace(base, soft_bounce=True)


def _bounce_by_subtype(bounce_type: str, subtype: str) -> BounceVerdict | None:
    """Subtypes that say it all, whatever the diagnostic; None for the others."""
    rule = f"subtype {subtype}"
    if bounce_type == "Permanent" and subtype in NEVER_ATTEMPTED:
        return BounceVerdict(ResponseClass.HARD_BOUNCE, rule, suppress=True)
    if bounce_type == "Permanent" and subtype in ("NoEmail", "Suppressed"):
        return BounceVerdict(ResponseClass.HARD_BOUNCE, rule, suppress=True, counts_as_bounce=True)
    if bounce_type == "Transient" and subtype in _SES_TRANSIENT:
        cls = _SES_TRANSIENT[subtype]
        if cls is ResponseClass.MAILBOX_FULL:
            return BounceVerdict(cls, rule, soft_bounce=True)
        return BounceVerdict(cls, rule, alert="content.rejected")
    return None


def classify_delay(delay_type: str, status: str = "", diagnostic: str = "") -> Verdict:
    """An SES DeliveryDelay: SES is still retrying, so it is at most a rate signal, never a bounce."""
    text = "" if diagnostic == delay_type else diagnostic
    if delay_type == "IPFailure" and not (text or status):
        return Verdict(ResponseClass.RATE_LIMIT, permanent=False, rule="delay IPFailure")
    verdict = classify(ProviderReply(status=status, text=text, code=None if text else 450))
    cls = _TEMPORARY.get(verdict.cls, verdict.cls)
    return Verdict(cls, permanent=False, rule=verdict.rule if text or status else f"delay {delay_type}")
