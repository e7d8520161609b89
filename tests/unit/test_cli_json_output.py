"""`--json` output writes stored documents (read straight from a store, as ports.JsonDocument) as the
JSON objects they hold, not as their repr."""

from __future__ import annotations

import json

import pytest

from entrypoints.cli.output import emit_json
from outreach_core.ports import JsonDocument


def test_a_stored_document_is_written_as_its_object(capsys: pytest.CaptureFixture[str]) -> None:
    emit_json({"item": JsonDocument('{"email":"zoë@corp.example","n":[1,2]}')})
    assert json.loads(capsys.readouterr().out) == {"item": {"email": "zoë@corp.example", "n": [1, 2]}}
