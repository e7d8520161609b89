"""JSON from outside (SNS bodies, SES event payloads) with a nesting limit: deep nesting is refused
with a clear ValueError before the decoder recurses (`[[[[...` 100k deep is a RecursionError otherwise)."""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 64  # SES event JSON nests 5 levels; SNS envelopes 2
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")


def nesting(text: str) -> int:
    """How deep arrays and objects nest in `text` (strings skipped), in one linear pass."""
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_STRING.sub("", text)):
        if bracket in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def loads(raw: str | bytes, max_depth: int = MAX_DEPTH) -> Any:
    """json.loads, raising ValueError (json.JSONDecodeError, UnicodeDecodeError, or too deep)."""
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    if nesting(text) > max_depth:
        raise ValueError(f"JSON nested deeper than {max_depth} levels")
    try:
        return json.loads(text)
    except RecursionError as exc:  # belt and braces: the scan above should make this unreachable
        raise ValueError("JSON nested too deeply") from exc
