"""Personalisation and spintax.

Syntax, in subject and text (HTML takes placeholders and {{RANDOM|...}} only, since CSS uses braces):
  {{first_name}}               a lead field; an empty value with no fallback blocks the send
  {{first_name|there}}         fallback when empty; also {{first_name|"there"}} and {{ x | default: "y" }}
  {{RANDOM|Hi|Hello|Hey}}      one option, chosen per message
  {Hi|Hello}                   spintax; nests: {Hi|Hello} {there|{friend|colleague}}
Choices are seeded by the job's idempotency key: a retry or preview renders the same variant.

Parsing is one linear pass into a tree (placeholders are tokens, never text the template could also
contain), with limits on size and nesting, so no template can make validation or sending slow or crash.
Every error names its place as "line L, column C" of the field. `lint` adds what parsing alone cannot
know: placeholders naming no field the tenant's leads have ({{frist_name}}), and, in HTML, a `{{` that
never closes.
"""

from __future__ import annotations

import difflib
import random
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Union

from outreach_core.domain.addresses import single_line

_DEFAULT = re.compile(r"^default\s*:\s*(.*)$", re.DOTALL)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
# C0 controls but TAB, LF and CR; DEL; C1 controls. NUL and friends have no place in an email body.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LINE_BREAK = re.compile("[\r\n\x85\u2028\u2029]")
MAX_CHARS = 200_000  # per field: Gmail clips messages above ~102 KB anyway
MAX_DEPTH = 10  # spintax nesting; real templates use two or three levels


class TemplateError(ValueError):
    """A template that cannot be rendered: says which field, where, and why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def where(text: str, offset: int) -> str:
    """An offset into a field as a person finds it in an editor: "line 3, column 14" (1-based)."""
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"line {line}, column {column}"


@dataclass(frozen=True)
class Placeholder:
    name: str
    fallback: str | None
    options: tuple[str, ...] = ()  # set for {{RANDOM|...}}
    position: int = field(default=0, compare=False)  # offset of its `{{` in the field


@dataclass(frozen=True)
class Slot:
    """Where placeholder number `index` goes."""

    index: int


@dataclass(frozen=True)
class Choice:
    """A spintax group {a|b|c}: one option per message."""

    options: tuple[Sequence_, ...]


@dataclass(frozen=True)
class Braces:
    """A brace group without '|' ({x}): kept literally, its inside still parsed."""

    inner: Sequence_


Part = Union[str, Slot, Choice, Braces]  # noqa: UP007 - a runtime alias used before the classes close
Sequence_ = tuple[Part, ...]


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _parse_placeholder(field: str, text: str, raw: str, position: int) -> Placeholder:
    if "{{" in raw or _LINE_BREAK.search(raw):
        # `{{first_name|there,` with its `}}` forgotten: the next `}}` (maybe paragraphs on) would close
        # it, and the fallback would swallow everything in between.
        raise TemplateError(field, f"unclosed '{{{{' at {where(text, position)}: its '}}}}' is missing")
    parts = raw.split("|")
    name = parts[0].strip()
    if name.upper() == "RANDOM":
        options = tuple(p.strip() for p in parts[1:])
        if len(options) < 1:
            raise TemplateError(
                field, f"{{{{RANDOM}}}} at {where(text, position)} needs options: {{{{RANDOM|a|b}}}}"
            )
        return Placeholder(name="RANDOM", fallback=None, options=options, position=position)
    if not _NAME.match(name):
        shown = single_line(raw)  # the error is one line, whatever the placeholder held
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        raise TemplateError(
            field, f"bad placeholder {{{{{shown}}}}} at {where(text, position)}: expected a field name"
        )
    if len(parts) == 1:
        return Placeholder(name=name, fallback=None, position=position)
    rest = "|".join(parts[1:]).strip()
    default = _DEFAULT.match(rest)
    return Placeholder(name=name, fallback=_unquote(default.group(1) if default else rest), position=position)


def _tokens(field: str, text: str) -> tuple[list[tuple[int, str | Slot]], tuple[Placeholder, ...]]:
    """The text as (position, literal text | placeholder slot) tokens, in one pass."""
    tokens: list[tuple[int, str | Slot]] = []
    placeholders: list[Placeholder] = []
    i = 0
    while True:
        start = text.find("{{", i)
        end = text.find("}}", start + 2) if start >= 0 else -1
        if end < 0:
            break
        if start > i:
            tokens.append((i, text[i:start]))
        placeholders.append(_parse_placeholder(field, text, text[start + 2 : end], start))
        tokens.append((start, Slot(len(placeholders) - 1)))
        i = end + 2
    if i < len(text):
        tokens.append((i, text[i:]))
    return tokens, tuple(placeholders)


class _Group:
    def __init__(self, position: int) -> None:
        self.position = position
        self.options: list[list[Part]] = [[]]


class _SpintaxParser:
    """Braces into a tree, iteratively (no recursion to exhaust). A '|' outside braces is text."""

    def __init__(self, field: str, text: str) -> None:
        self.field = field
        self.text = text
        self.top: list[Part] = []
        self.stack: list[_Group] = []

    def current(self) -> list[Part]:
        return self.stack[-1].options[-1] if self.stack else self.top

    def parse(self, tokens: list[tuple[int, str | Slot]]) -> Sequence_:
        for position, token in tokens:
            if isinstance(token, Slot):
                self.current().append(token)
            else:
                self._text(position, token)
        if self.stack:
            raise TemplateError(
                self.field,
                f"unclosed '{{' at {where(self.text, self.stack[0].position)}: its '}}' is missing",
            )
        return tuple(self.top)

    def _text(self, position: int, token: str) -> None:
        run_start = 0
        for offset, ch in enumerate(token):
            if ch not in "{}|" or (ch == "|" and not self.stack):
                continue
            if offset > run_start:
                self.current().append(token[run_start:offset])
            run_start = offset + 1
            self._structural(ch, position + offset)
        if run_start < len(token):
            self.current().append(token[run_start:])

    def _structural(self, ch: str, at: int) -> None:
        if ch == "{":
            if len(self.stack) >= MAX_DEPTH:
                raise TemplateError(
                    self.field, f"spintax nested more than {MAX_DEPTH} levels deep at {where(self.text, at)}"
                )
            self.stack.append(_Group(at))
        elif ch == "|":
            self.stack[-1].options.append([])
        elif not self.stack:
            raise TemplateError(self.field, f"unmatched '}}' at {where(self.text, at)}")
        else:
            options = tuple(tuple(option) for option in self.stack.pop().options)
            self.current().append(Choice(options) if len(options) > 1 else Braces(options[0]))


@dataclass(frozen=True)
class Parsed:
    field: str
    tree: Sequence_  # literal text, placeholder slots and (with spintax) choice groups
    placeholders: tuple[Placeholder, ...]
    spintax: bool


def _check_text(field: str, text: str) -> None:
    if len(text) > MAX_CHARS:
        raise TemplateError(field, f"{len(text):,} characters; at most {MAX_CHARS:,}")
    control = _CONTROL.search(text)
    if control is not None:
        raise TemplateError(
            field,
            f"control character U+{ord(control.group()):04X} at {where(text, control.start())} "
            "is not allowed",
        )
    if field == "subject":
        brk = _LINE_BREAK.search(text)
        if brk is not None:
            raise TemplateError(field, f"line break at {where(text, brk.start())}: a subject is one line")


@lru_cache(maxsize=2048)
def parse(field: str, text: str, *, spintax: bool = True) -> Parsed:
    """Parse and validate; raises TemplateError on any syntax problem, before anything is sent."""
    _check_text(field, text)
    tokens, placeholders = _tokens(field, text)
    tree: Sequence_ = _SpintaxParser(field, text).parse(tokens) if spintax else tuple(t for _, t in tokens)
    return Parsed(field=field, tree=tree, placeholders=placeholders, spintax=spintax)


def _spun(tree: Sequence_, rng: random.Random) -> list[str | Slot]:
    """The tree with each choice made, left to right (an option is chosen, then its inside)."""
    out: list[str | Slot] = []
    pending: list[Part | str] = list(reversed(tree))
    while pending:
        part = pending.pop()
        if isinstance(part, (str, Slot)):
            out.append(part)
        elif isinstance(part, Choice):
            pending.extend(reversed(part.options[rng.randrange(len(part.options))]))
        else:
            pending.extend(["}", *reversed(part.inner), "{"])
    return out


def render(parsed: Parsed, values: Mapping[str, str], seed: int) -> str:
    """Render with lead values. Raises TemplateError naming a field that is empty and has no fallback."""
    rng = random.Random(seed)  # seeded: same key, same variant
    parts = _spun(parsed.tree, rng)
    out: list[str] = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
            continue
        ph = parsed.placeholders[part.index]
        if ph.options:
            out.append(ph.options[rng.randrange(len(ph.options))])
            continue
        value = values.get(ph.name, "").strip()
        if value:
            out.append(value)
        elif ph.fallback is None:
            raise TemplateError(parsed.field, f"{{{{{ph.name}}}}} is empty for this lead and has no fallback")
        else:
            out.append(ph.fallback)
    return "".join(out)


def field_names(*parsed: Parsed) -> set[str]:
    return {p.name for item in parsed for p in item.placeholders if not p.options}


def lint(field: str, text: str, known: Collection[str], *, spintax: bool = True) -> list[str]:
    """Problems a template has before any lead is rendered, each "line L, column C: what": the first
    syntax error (parse raises it), then every placeholder naming no field in `known` (a typo would
    render its fallback, or fail every send, for every lead), with the nearest known name."""
    parsed = parse(field, text, spintax=spintax)
    problems: list[str] = []
    if not spintax:  # HTML keeps an unclosed `{{` as text when parsing; an author meant a placeholder
        opened = _unclosed_in_html(text)
        if opened is not None:
            problems.append(f"{where(text, opened)}: unclosed '{{{{': its '}}}}' is missing")
    for ph in parsed.placeholders:
        if ph.options or ph.name in known:
            continue
        near = difflib.get_close_matches(ph.name, sorted(known), n=1, cutoff=0.6)
        hint = f" (did you mean {near[0]}?)" if near else ""
        problems.append(f"{where(text, ph.position)}: unknown field {{{{{ph.name}}}}}{hint}")
    return problems


def _unclosed_in_html(text: str) -> int | None:
    start = text.rfind("{{")
    if start >= 0 and text.find("}}", start + 2) < 0:
        return start
    return None
