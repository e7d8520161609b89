"""Amazon SNS messages: parsing (HTTP and Lambda spellings), signature verification, and the HTTPS
endpoint's handling of Notification / SubscriptionConfirmation / UnsubscribeConfirmation.

Verification follows AWS's own validators (aws.md §3): SignatureVersion 1 (RSA PKCS#1 v1.5 over SHA1)
or 2 (over SHA256); the canonical string is `Key\\nValue\\n` for the keys of the message's type in byte
order (Subject only when present); SigningCertURL must be https, end in .pem and sit on
sns.<region>.amazonaws.com(.cn) of the topic's own region; the certificate must be valid now; the topic
must be one we subscribed to (anyone can run a topic whose messages SNS signs); and the message must
not be older than SNS could still be retrying it (an HTTP/S delivery policy ends within an hour).
Certificates come from an injectable fetcher and are cached per URL.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import structlog
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from adapters.json_limits import loads as bounded_loads
from outreach_core.ports import Clock

log = structlog.get_logger(__name__)

_CERT_HOST = re.compile(r"^sns\.[a-zA-Z0-9\-]{3,}\.amazonaws\.com(\.cn)?$")
_SIGNED_KEYS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
    "UnsubscribeConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}
# The Lambda event spells some keys differently (aws.md §3.4); the signature covers the values only.
_ALIASES = {
    "SigningCertUrl": "SigningCertURL",
    "UnsubscribeUrl": "UnsubscribeURL",
    "SubscribeUrl": "SubscribeURL",
}
MAX_CERT_BYTES = 64 * 1024
DEFAULT_MAX_AGE = timedelta(hours=2)  # SNS stops retrying an HTTP/S delivery within 3,600 s; plus skew


class SnsVerificationError(ValueError):
    """The message is not a genuine SNS message for a topic of ours. The text says which check failed."""


@dataclass(frozen=True)
class SnsMessage:
    fields: Mapping[str, str]

    @classmethod
    def parse(cls, body: str | bytes | Mapping[str, Any]) -> SnsMessage:
        """An SNS JSON document (HTTP body, or the `Sns` object of a Lambda record)."""
        if isinstance(body, (str, bytes)):
            try:
                body = bounded_loads(body, max_depth=8)  # an SNS envelope is one flat object
            except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, too deep
                raise SnsVerificationError(f"not an SNS message: the body is not JSON ({exc})") from exc
        if not isinstance(body, Mapping):
            raise SnsVerificationError("not an SNS message: the body is not a JSON object")
        fields: dict[str, str] = {}
        for key, value in body.items():
            if value is None or not isinstance(value, (str, int)):
                continue  # Subject: null in Lambda records; MessageAttributes is not signed
            fields[_ALIASES.get(key, key)] = str(value)
        for required in ("Type", "MessageId", "TopicArn", "Message", "Timestamp", "SignatureVersion"):
            if required not in fields:
                raise SnsVerificationError(f"not an SNS message: {required} is missing")
        if fields["Type"] not in _SIGNED_KEYS:
            raise SnsVerificationError(f"unknown SNS message type {fields['Type'][:40]!r}")
        return cls(fields)

    @property
    def type(self) -> str:
        return self.fields["Type"]

    @property
    def message_id(self) -> str:
        return self.fields["MessageId"]

    @property
    def topic_arn(self) -> str:
        return self.fields["TopicArn"]

    @property
    def message(self) -> str:
        return self.fields["Message"]

    @property
    def subscribe_url(self) -> str:
        return self.fields.get("SubscribeURL", "")

    @property
    def region(self) -> str:
        parts = self.topic_arn.split(":")
        return parts[3] if len(parts) >= 6 and parts[0] == "arn" else ""

    def string_to_sign(self) -> bytes:
        lines = []
        for key in _SIGNED_KEYS[self.type]:
            if key in self.fields:
                lines.append(f"{key}\n{self.fields[key]}\n")
        return "".join(lines).encode("utf-8")


def cert_url_problem(url: str, region: str) -> str | None:
    """Why this SigningCertURL must not be trusted, or None."""
    parts = urlsplit(url)
    if parts.scheme != "https":
        return f"certificate URL is not https: {url[:120]!r}"
    host = (parts.hostname or "").lower()
    if parts.port not in (None, 443) or parts.username or parts.password:
        return f"certificate URL has a port or credentials: {url[:120]!r}"
    if not _CERT_HOST.match(host):
        return f"certificate host {host!r} is not sns.<region>.amazonaws.com"
    if region and host not in (f"sns.{region}.amazonaws.com", f"sns.{region}.amazonaws.com.cn"):
        return f"certificate host {host!r} is not in the topic's region {region!r}"
    if not parts.path.endswith(".pem"):
        return "certificate URL does not name a .pem file"
    return None


def subscribe_url_problem(url: str, region: str) -> str | None:
    """SubscribeURL must lead back to SNS of the topic's region, and nowhere else."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or not _CERT_HOST.match(host):
        return f"subscribe URL is not https on sns.<region>.amazonaws.com: {url[:120]!r}"
    if region and host not in (f"sns.{region}.amazonaws.com", f"sns.{region}.amazonaws.com.cn"):
        return f"subscribe URL host {host!r} is not in the topic's region {region!r}"
    return None


def fetch_https(url: str, timeout: float = 5.0) -> bytes:
    """GET over HTTPS with certificate checks (the default fetcher for certificates and confirmations)."""
    import ssl
    from urllib.request import Request, urlopen

    if urlsplit(url).scheme != "https":
        raise ValueError("only https URLs are fetched")
    request = Request(url, headers={"User-Agent": "outreach-sns-endpoint"})
    with urlopen(request, timeout=timeout, context=ssl.create_default_context()) as response:
        body: bytes = response.read(MAX_CERT_BYTES + 1)
    if len(body) > MAX_CERT_BYTES:
        raise ValueError("response too large")
    return body


class SnsVerifier:
    def __init__(
        self,
        clock: Clock,
        *,
        topic_arns: frozenset[str] | set[str] | tuple[str, ...],
        fetch: Callable[[str], bytes] = fetch_https,
        max_age: timedelta | None = DEFAULT_MAX_AGE,
    ) -> None:
        self.clock = clock
        self.topic_arns = frozenset(t.strip() for t in topic_arns if t.strip())
        self.fetch = fetch
        self.max_age = max_age
        self._certs: dict[str, x509.Certificate] = {}
        self._lock = threading.Lock()

    def verify(self, message: SnsMessage) -> None:
        """Returns when the message is genuine and for us; raises SnsVerificationError otherwise."""
        if not self.topic_arns:
            raise SnsVerificationError("no SNS topic is allowed (set OUTREACH_SNS_TOPIC_ARNS)")
        if message.topic_arn not in self.topic_arns:
            raise SnsVerificationError(f"topic {message.topic_arn[:200]!r} is not one of ours")
        version = message.fields["SignatureVersion"]
        algorithm: hashes.HashAlgorithm
        if version == "1":
            algorithm = hashes.SHA1()  # SignatureVersion 1 is defined over SHA1
        elif version == "2":
            algorithm = hashes.SHA256()
        else:
            raise SnsVerificationError(f"unsupported SignatureVersion {version[:8]!r}")
        url = message.fields.get("SigningCertURL", "")
        problem = cert_url_problem(url, message.region)
        if problem:
            raise SnsVerificationError(problem)
        now = self.clock.now()
        self._check_age(message, now)
        certificate = self._certificate(url)
        if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
            raise SnsVerificationError(
                f"signing certificate is not valid now (valid {certificate.not_valid_before_utc:%Y-%m-%d}"
                f" to {certificate.not_valid_after_utc:%Y-%m-%d})"
            )
        key = certificate.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise SnsVerificationError("signing certificate does not hold an RSA key")
        try:
            signature = base64.b64decode(message.fields.get("Signature", ""), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise SnsVerificationError("Signature is not base64") from exc
        try:
            key.verify(signature, message.string_to_sign(), padding.PKCS1v15(), algorithm)
        except InvalidSignature as exc:
            raise SnsVerificationError("signature does not match the message (altered or forged)") from exc

    def _check_age(self, message: SnsMessage, now: datetime) -> None:
        try:
            sent = datetime.fromisoformat(message.fields["Timestamp"].replace("Z", "+00:00"))
        except ValueError as exc:
            raise SnsVerificationError("Timestamp is not an ISO 8601 time") from exc
        if sent.tzinfo is None:
            raise SnsVerificationError("Timestamp has no time zone")
        if self.max_age is not None and now - sent > self.max_age:
            raise SnsVerificationError(
                f"message is older than {self.max_age} (sent {sent:%Y-%m-%dT%H:%M:%SZ})"
            )
        if sent - now > timedelta(minutes=5):
            raise SnsVerificationError("message is dated in the future")

    def _certificate(self, url: str) -> x509.Certificate:
        with self._lock:
            cached = self._certs.get(url)
        if cached is not None:
            return cached
        try:
            pem = self.fetch(url)
            certificate = x509.load_pem_x509_certificate(pem)
        except Exception as exc:
            raise SnsVerificationError(
                f"could not load the signing certificate: {type(exc).__name__}"
            ) from exc
        with self._lock:
            if len(self._certs) > 64:
                self._certs.clear()
            self._certs[url] = certificate
        return certificate


@dataclass(frozen=True)
class EndpointAnswer:
    status: int
    text: str


class SnsEndpoint:
    """The worker's POST /sns: verify, then confirm subscriptions or hand notifications on.

    `on_notification` gets the Message string and may raise: the answer is then 500 so SNS retries.
    Anything that fails verification is answered 403 and logged (`sns.rejected`, with the reason)."""

    def __init__(
        self,
        verifier: SnsVerifier,
        on_notification: Callable[[str], object],
        confirm: Callable[[str], object] | None = None,
    ) -> None:
        self.verifier = verifier
        self.on_notification = on_notification
        self.confirm = confirm or verifier.fetch

    def handle(self, body: bytes) -> EndpointAnswer:
        try:
            message = SnsMessage.parse(body)
        except SnsVerificationError as exc:
            log.warning("sns.rejected", reason=str(exc))
            return EndpointAnswer(400, f"rejected: {exc}")
        try:
            self.verifier.verify(message)
        except SnsVerificationError as exc:
            log.warning(
                "sns.rejected",
                reason=str(exc),
                sns_type=message.type,
                topic_arn=message.topic_arn[:200],
                sns_message_id=message.message_id[:80],
            )
            return EndpointAnswer(403, f"rejected: {exc}")
        if message.type == "SubscriptionConfirmation":
            return self._confirm(message)
        if message.type == "UnsubscribeConfirmation":
            log.warning("sns.unsubscribed", topic_arn=message.topic_arn)
            return EndpointAnswer(200, "noted")
        try:
            self.on_notification(message.message)
        except Exception:
            log.exception("sns.notification_failed", sns_message_id=message.message_id)
            return EndpointAnswer(500, "could not apply the notification; SNS will retry")
        return EndpointAnswer(200, "ok")

    def _confirm(self, message: SnsMessage) -> EndpointAnswer:
        problem = subscribe_url_problem(message.subscribe_url, message.region)
        if problem:
            log.warning("sns.rejected", reason=problem, sns_type=message.type, topic_arn=message.topic_arn)
            return EndpointAnswer(403, f"rejected: {problem}")
        try:
            self.confirm(message.subscribe_url)
        except Exception as exc:
            log.error("sns.confirm_failed", topic_arn=message.topic_arn, error=type(exc).__name__)
            return EndpointAnswer(502, "could not confirm the subscription")
        log.info("sns.subscription_confirmed", topic_arn=message.topic_arn)
        return EndpointAnswer(200, "subscription confirmed")
