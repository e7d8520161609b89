"""Personalisation and spintax.

Syntax, in subject and text (HTML takes placeholders and {{RANDOM|...}} only, since CSS uses braces):
  {{first_name}}               a lead field; an empty value with no fallback blocks the send
  {{first_name|there}}         fallback when empty; also {{first_name|"there"}} and {{ x | default: "y" }}
  {{RANDOM|Hi|Hello|Hey}}      one option, chosen per message
  {Hi|Hello}                   spintax; nests: {Hi|Hello} {there|{friend|colleague}}
Choices are seeded by the job's idempotency key: a retry or preview renders the same variant.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_DEFAULT = re.compile(r"^default\s*:\s*(.*)$", re.DOTALL)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_SENTINEL = "\x00{}\x00"
_SENTINEL_RE = re.compile("\x00(\\d+)\x00")


class TemplateError(ValueError):
    """A template that cannot be rendered: says which field, where, and why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Placeholder:
    name: str
    fallback: str | None
    options: tuple[str, ...] = ()  # set for {{RANDOM|...}}


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _parse_placeholder(field: str, raw: str, position: int) -> Placeholder:
    parts = raw.split("|")
    name = parts[0].strip()
    if name.upper() == "RANDOM":
        options = tuple(p.strip() for p in parts[1:])
        if len(options) < 1:
            raise TemplateError(field, f"{{{{RANDOM}}}} at {position} needs options: {{{{RANDOM|a|b}}}}")
        return Placeholder(name="RANDOM", fallback=None, options=options)
    if not _NAME.match(name):
        raise TemplateError(field, f"bad placeholder {{{{{raw}}}}} at {position}: expected a field name")
    if len(parts) == 1:
        return Placeholder(name=name, fallback=None)
    rest = "|".join(parts[1:]).strip()
    default = _DEFAULT.match(rest)
    return Placeholder(name=name, fallback=_unquote(default.group(1) if default else rest))


def _spin(field: str, text: str, rng: random.Random | None) -> str:
    """Resolve {a|b} groups (recursively). A brace group without '|' stays literal."""
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "}":
            raise TemplateError(field, f"unmatched '}}' at {i}")
        if ch != "{":
            out.append(ch)
            i += 1
            continue
        depth, j, splits = 1, i + 1, []
        while j < len(text) and depth:
            if text[j] == "{":
                depth += 1
            elif text[j] == "}":
                depth -= 1
            elif text[j] == "|" and depth == 1:
                splits.append(j)
            j += 1
        if depth:
            raise TemplateError(field, f"unclosed '{{' at {i}")
        inner = text[i + 1 : j - 1]
        if not splits:
            out.append("{" + _spin(field, inner, rng) + "}")
        else:
            bounds = [i, *splits, j - 1]
            options = [text[a + 1 : b] for a, b in itertools.pairwise(bounds)]
            chosen = options[rng.randrange(len(options))] if rng else options[0]
            if rng is None:  # validating: every option must parse
                for option in options:
                    _spin(field, option, None)
            out.append(_spin(field, chosen, rng))
        i = j
    return "".join(out)


@dataclass(frozen=True)
class Parsed:
    field: str
    skeleton: str  # text with placeholders replaced by sentinels
    placeholders: tuple[Placeholder, ...]
    spintax: bool


@lru_cache(maxsize=2048)
def parse(field: str, text: str, *, spintax: bool = True) -> Parsed:
    """Parse and validate; raises TemplateError on any syntax problem, before anything is sent."""
    placeholders: list[Placeholder] = []

    def _take(match: re.Match[str]) -> str:
        placeholders.append(_parse_placeholder(field, match.group(1), match.start()))
        return _SENTINEL.format(len(placeholders) - 1)

    skeleton = _PLACEHOLDER.sub(_take, text)
    if spintax:
        _spin(field, skeleton, None)
    return Parsed(field=field, skeleton=skeleton, placeholders=tuple(placeholders), spintax=spintax)


def render(parsed: Parsed, values: Mapping[str, str], seed: int) -> str:
    """Render with lead values. Raises TemplateError naming a field that is empty and has no fallback."""
    rng = random.Random(seed)  # seeded: same key, same variant
    body = _spin(parsed.field, parsed.skeleton, rng) if parsed.spintax else parsed.skeleton

    def _fill(match: re.Match[str]) -> str:
        ph = parsed.placeholders[int(match.group(1))]
        if ph.options:
            return ph.options[rng.randrange(len(ph.options))]
        value = values.get(ph.name, "").strip()
        if value:
            return value
        if ph.fallback is None:
            raise TemplateError(parsed.field, f"{{{{{ph.name}}}}} is empty for this lead and has no fallback")
        return ph.fallback

    return _SENTINEL_RE.sub(_fill, body)


def field_names(*parsed: Parsed) -> set[str]:
    return {p.name for item in parsed for p in item.placeholders if not p.options}
