"""What the Lambda functions import at cold start is what the zip must carry (scripts/package_lambda.py
BUNDLED): the domain check's checkdmarc / dkimpy tree is a CLI concern and must stay out of it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from entrypoints.aws.manifest import FUNCTIONS

CLI_ONLY = ("checkdmarc", "dkim", "holidays", "dnslib", "httpx", "publicsuffixlist", "pyleri", "expiringdict")
# Loaded by the IMAP poller on its first read only: no function imports it at cold start.
FIRST_READ_ONLY = ("imapclient",)


def test_the_lambda_handlers_import_no_cli_only_package() -> None:
    handlers = [f.handler.rsplit(".", 1)[0] for f in FUNCTIONS]
    code = (
        "import importlib, json, sys\n"
        f"[importlib.import_module(m) for m in {handlers!r}]\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    env = {
        **os.environ,
        "OUTREACH_BACKEND": "aws",
        "OUTREACH_MX_RESOLVER": "dns",
        "AWS_ACCESS_KEY_ID": "cold-start-test",
        "AWS_SECRET_ACCESS_KEY": "cold-start-test",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "OUTREACH_AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "OUTREACH_JOB_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/jobs",
        "OUTREACH_ARCHIVE_BUCKET": "archive",
        "OUTREACH_UNSUBSCRIBE_SECRET": "cold-start-test-secret",  # the sender refuses to start without
    }
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert "disposable_email_domains" in loaded  # the planner's list hygiene: bundled
    assert not loaded & set(CLI_ONLY), sorted(loaded & set(CLI_ONLY))
    assert not loaded & set(FIRST_READ_ONLY), sorted(loaded & set(FIRST_READ_ONLY))
    assert "adapters" in loaded and "entrypoints" in loaded
