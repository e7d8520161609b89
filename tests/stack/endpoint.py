"""The local AWS endpoint: a moto server on 127.0.0.1 in this process (so the shim and the test can see
its backends), over TLS with a certificate made for the run (the stack's TLS-only policies are then
evaluated as on AWS: aws:SecureTransport is true), with IAM enforcement switchable, a count of every
request by service and operation, and a switch that makes one region's SES refuse sends (the outage)."""

from __future__ import annotations

import datetime
import io
import ipaddress
import json
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from moto import settings as moto_settings
from moto.core.authorization import ActionAuthenticatorMixin
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from tests.stack import moto_shim

_SCOPE = re.compile(r"Credential=([^/]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")
SES_SEND_PATH = "/v2/email/outbound-emails"


class Traffic:
    """Requests seen by the endpoint: (access key id, region, service, operation) -> count."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str, str, str]] = Counter()
        self.lock = threading.Lock()

    def add(self, key: tuple[str, str, str, str]) -> None:
        with self.lock:
            self.counts[key] += 1

    def snapshot(self) -> Counter[tuple[str, str, str, str]]:
        with self.lock:
            return Counter(self.counts)


def _operation(environ: dict[str, Any], body: bytes) -> str:
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return str(target).rsplit(".", 1)[-1]
    if body[:7] == b"Action=" or b"&Action=" in body:
        for pair in body.decode(errors="replace").split("&"):
            if pair.startswith("Action="):
                return pair[7:]
    query = environ.get("QUERY_STRING", "")
    for pair in query.split("&"):
        if pair.startswith("Action="):
            return pair[7:]
    return f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')}"


class _Middleware:
    def __init__(self, app: Callable[..., Iterable[bytes]], endpoint: LocalEndpoint) -> None:
        self.app, self.endpoint = app, endpoint

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("wsgi.input_terminated"):  # chunked (S3's aws-chunked uploads): read to the end
            body = environ["wsgi.input"].read()
        else:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        # moto reads the undecoded path (what was signed) from werkzeug's RAW_URI; cheroot names it so
        environ.setdefault("RAW_URI", environ.get("REQUEST_URI", ""))
        scope = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        key, region, service = scope.groups() if scope else ("-", "-", "-")
        self.endpoint.traffic.add((key, region, service, _operation(environ, body)))
        moto_shim.REQUEST.secure = environ.get("wsgi.url_scheme") == "https"
        if (
            service == "ses"
            and environ.get("PATH_INFO") == SES_SEND_PATH
            and region in self.endpoint.ses_outage
        ):
            try:
                tags = {t["Name"]: t["Value"] for t in json.loads(body or b"{}").get("EmailTags", [])}
            except ValueError:
                tags = {}
            self.endpoint.refused_sends.append(tags.get("job", "?"))
            payload = json.dumps({"message": f"SES in {region} is unavailable (stack test outage)"}).encode()
            start_response(
                "503 Service Unavailable",
                [
                    ("Content-Type", "application/json"),
                    ("x-amzn-ErrorType", "ServiceUnavailable"),
                    ("Content-Length", str(len(payload))),
                ],
            )
            return [payload]
        return self.app(environ, start_response)


class _Server:
    """moto's WSGI app behind cheroot: TLS with keep-alive (werkzeug's server closes every connection,
    so each request would pay a TLS handshake), a pool of request threads."""

    def __init__(self, endpoint: LocalEndpoint) -> None:
        from cheroot import wsgi
        from cheroot.ssl.builtin import BuiltinSSLAdapter

        app = _Middleware(DomainDispatcherApplication(create_backend_app), endpoint)
        self._server = wsgi.Server(("127.0.0.1", 0), app, numthreads=32, request_queue_size=64)
        self._server.ssl_adapter = BuiltinSSLAdapter(endpoint.ca_bundle, endpoint.key_file)
        self._thread = threading.Thread(target=self._server.serve, name="aws-endpoint", daemon=True)

    def start(self) -> None:
        self._server.prepare()
        self._thread.start()

    def get_host_and_port(self) -> tuple[str, int]:
        host, port = self._server.bind_addr[:2]
        return str(host), int(port)

    def stop(self) -> None:
        self._server.stop()
        self._thread.join(timeout=10)


def self_signed(directory: Any) -> tuple[str, str]:
    """A certificate for 127.0.0.1 and localhost, valid for a day: (certificate path, key path)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stack-test endpoint")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "endpoint.pem", directory / "endpoint.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(cert_path), str(key_path)


class LocalEndpoint:
    def __init__(self, directory: Any) -> None:
        self.ca_bundle, self.key_file = self_signed(directory)
        self.traffic = Traffic()
        self.ses_outage: set[str] = set()
        self.refused_sends: list[str] = []  # the job tag of each SendEmail the outage answered 503
        self._server = _Server(self)
        self._saved = (moto_settings.INITIAL_NO_AUTH_ACTION_COUNT, ActionAuthenticatorMixin.request_count)

    def start(self) -> str:
        self._server.start()
        host, port = self._server.get_host_and_port()
        return f"https://{host}:{port}"

    def enforce_iam(self, on: bool = True) -> None:
        """From now on every request must be signed by a known key and allowed by its policies."""
        ActionAuthenticatorMixin.request_count = 0
        moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = 0 if on else float("inf")

    def stop(self) -> None:
        self._server.stop()
        moto_settings.INITIAL_NO_AUTH_ACTION_COUNT, ActionAuthenticatorMixin.request_count = self._saved
