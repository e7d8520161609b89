"""Import leads from CSV: every good row in, every bad row reported with its line and reason.

Rows are read as a stream and written in chunks (a file of a million rows is never held whole), each
lead in one atomic write together with its enrolment in the running campaigns of its list, so an
interrupted import leaves whole leads only and can simply be run again (rows already in are reported
as such). A chunk's suppression and do-not-contact entries are read in one round trip, its leads
written in batched writes, each lead's document built from its checked row (services.lead_documents).
List hygiene (services.hygiene) runs on every good row: a skipped lead is kept, with its reason, and
never enrolled; nothing is dropped without a line in the report.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

import structlog
from pydantic import ValidationError

from outreach_core.domain.addresses import AddressError, canonical_email
from outreach_core.domain.ids import lead_id_for
from outreach_core.domain.models import Campaign, CampaignStatus, LawfulBasis, Lead
from outreach_core.domain.window import zone
from outreach_core.policies.hygiene import HygieneVerdict
from outreach_core.ports import Clock, Delete, Key, Put
from outreach_core.records import Records
from outreach_core.services.audit import AuditTrail
from outreach_core.services.hygiene import ListHygiene
from outreach_core.services.lead_documents import LeadDocuments, LeadRow, apply_verdict
from outreach_core.services.sequence import step_timer

log = structlog.get_logger(__name__)

KNOWN_COLUMNS = (
    "email",
    "first_name",
    "last_name",
    "company",
    "title",
    "timezone",
    "country",
    "source",
    "lawful_basis",
)
COLUMN_HELP = {
    "email": "the address (required)",
    "first_name": "{{first_name}}",
    "last_name": "{{last_name}}",
    "company": "{{company}}",
    "title": "{{title}}: job title",
    "timezone": "IANA zone (Europe/Berlin): the window opens in the lead's hours; empty = the tenant's",
    "country": "{{country}}; with `tenant holidays --lead-country`, its holidays are not mailed on",
    "source": "where the address came from (default: --source, else csv:<file>)",
    "lawful_basis": "consent, legitimate_interest, contract or other (default: --basis)",
}
DELIMITERS = ",;\t|"
ALIASES = {
    "e-mail": "email",
    "email_address": "email",
    "firstname": "first_name",
    "first": "first_name",
    "lastname": "last_name",
    "last": "last_name",
    "surname": "last_name",
    "organisation": "company",
    "organization": "company",
    "tz": "timezone",
    "time_zone": "timezone",
    "basis": "lawful_basis",
    "mail": "email",
    "job_title": "title",
    "position": "title",
    "country_code": "country",
}


# Good rows written per round of batched writes (one SQLite transaction). Lead ids are hashes, so a
# batch's leads land at random pages of the table: at 500 a batch a lead cost SQLite about two written
# pages (its leaf and the interior pages above it, again in every batch), at 5,000 about one.
CHUNK = 5_000
_PASSED = HygieneVerdict()  # no list hygiene configured: every lead passes, unflagged
_SEEN_MAX = 200_000  # rows whose line numbers are remembered for "duplicate of line N"; past it the
# store tells a duplicate (its first copy was written by this import), without the line number


class ImportFileError(ValueError):
    """The file as a whole cannot be imported (no email column, not CSV). Nothing was written."""


@dataclass(frozen=True)
class RowProblem:
    line: int
    reason: str
    email: str = ""


@dataclass
class ImportReport:
    imported: int = 0  # new leads that will be sent to
    enrolled: int = 0
    problems: list[RowProblem] = field(default_factory=list)  # rows not imported
    skipped: list[RowProblem] = field(default_factory=list)  # kept, never sent to: list hygiene
    flagged: list[RowProblem] = field(default_factory=list)  # imported, worth a look (role account, typo)

    @property
    def rejected(self) -> int:
        return len(self.problems)


def _column(name: str) -> str:
    key = name.strip().lower().replace(" ", "_")
    return ALIASES.get(key, key)


def as_utf8(raw: bytes, encoding: str | None) -> bytes:
    """The file's bytes as UTF-8: UTF-16 is recognised by its byte-order mark (Excel's "Unicode text"),
    another encoding (cp1252, latin-1: older Excel and Windows exports) is named by the caller. UTF-8 is
    left alone and decoded line by line, so one bad line is reported rather than the file refused."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    if encoding is None or encoding.replace("-", "").replace("_", "").lower() in ("utf8", "utf8sig"):
        if b"\x00" in raw[:200] and raw.count(b"\x00") > len(raw[:200]) // 4:
            raise ImportFileError(
                "line 1: this looks like UTF-16 without a byte-order mark; pass --encoding utf-16-le "
                "(or save the file as UTF-8)"
            )
        return raw
    try:
        return raw.decode(encoding).encode("utf-8")
    except LookupError as exc:
        raise ImportFileError(f"unknown encoding {encoding!r} (e.g. utf-8, utf-16, cp1252, latin-1)") from exc
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ImportFileError(
            f"line {line}: not {encoding} (byte 0x{raw[exc.start]:02x}); nothing was imported"
        ) from exc


def _utf8_with_header(
    raw: bytes | Iterable[bytes], encoding: str | None
) -> tuple[bytes | Iterable[bytes], str]:
    """The file as UTF-8 and its header line. A UTF-8 file stays a stream (a big list is never held
    whole); UTF-16 or a named encoding is decoded whole (as_utf8): such exports are small."""
    if isinstance(raw, bytes):
        utf8 = as_utf8(raw, encoding)
        return utf8, utf8.removeprefix(b"\xef\xbb\xbf").split(b"\n", 1)[0].decode("utf-8", "replace")
    rest = iter(raw)
    head = next(rest, b"")
    named = encoding is not None and encoding.replace("-", "").replace("_", "").lower() not in (
        "utf8",
        "utf8sig",
    )
    if named or head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _utf8_with_header(head + b"".join(rest), encoding)
    as_utf8(head, None)  # refuses UTF-16 without a byte-order mark, by its first line
    first = head.removeprefix(b"\xef\xbb\xbf").split(b"\n", 1)[0].decode("utf-8", "replace")
    return itertools.chain([head], rest), first


def sniff_delimiter(first_line: str) -> str:
    """The separator of the header line: the candidate that splits it into the most columns (an Excel
    export in a German or French locale uses ';'), a comma when none does."""
    counts = {d: len(next(csv.reader([first_line], delimiter=d), [])) for d in DELIMITERS}
    best = max(counts, key=lambda d: (counts[d], d == ","))
    return best if counts[best] > 1 else ","


def _raw_lines(raw: bytes | Iterable[bytes]) -> Iterator[bytes]:
    """Lines of the file as it arrives (bytes in memory, or an open binary file: never read whole)."""
    lines = iter(raw.splitlines(keepends=True) if isinstance(raw, bytes) else raw)
    for line in lines:
        if line.find(b"\r", 0, -1) >= 0:  # a lone CR ends a line too (as bytes.splitlines has it)
            yield from line.splitlines(keepends=True)
        else:
            yield line


def _decoded_lines(raw: bytes | Iterable[bytes], report: ImportReport) -> Iterator[tuple[int, str]]:
    """Decode line by line, so one line in another encoding is reported, not the whole file lost."""
    for number, line in enumerate(_raw_lines(raw), start=1):
        chunk = line[3:] if number == 1 and line.startswith(b"\xef\xbb\xbf") else line
        try:
            yield number, chunk.decode("utf-8")
        except UnicodeDecodeError as exc:
            report.problems.append(
                RowProblem(
                    number,
                    f"not UTF-8 (byte 0x{chunk[exc.start]:02x} at column {exc.start + 1}); "
                    "save the file as UTF-8",
                )
            )


class _NumberedLines:
    """Feeds csv.reader and remembers the file line each record started on, and the text of the lines
    of the record just read, so the lines an unterminated quote swallowed can be read again."""

    def __init__(self, lines: Iterator[tuple[int, str]]) -> None:
        self._lines = lines
        self._again: list[tuple[int, str]] = []  # pushed back, next first (a stack: reversed order)
        self._numbers: list[int] = []
        self._record: list[tuple[int, str]] = []
        self._taken: list[tuple[int, str]] = []
        self._mark = 0

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        # Not a generator: after the end of the file, lines pushed back are still served.
        number, text = self._again.pop() if self._again else next(self._lines)
        self._numbers.append(number)
        self._record.append((number, text))
        return text

    @property
    def last(self) -> int:
        return self._numbers[-1] if self._numbers else 0

    def record_start(self) -> tuple[int, int]:
        """The lines (first, last) of the record just read; call once after each record."""
        start = self._numbers[self._mark] if self._mark < len(self._numbers) else self.last
        self._mark = len(self._numbers)
        self._taken, self._record = self._record, []
        return start, self.last

    @property
    def taken(self) -> list[str]:
        """The raw lines of the record just read."""
        return [text for _, text in self._taken]

    def read_again_after_first(self) -> None:
        """Feed the record's lines but its first to the reader again (they were swallowed by it)."""
        self._again.extend(reversed(self._taken[1:]))


def _open_quote(header: list[str], lines: list[str], delimiter: str = ",") -> bool:
    """Did a quote left open swallow rows? `lines` are the raw lines of one record that spans several.
    A quoted value may hold line breaks; but an odd number of quote characters means one never closed
    (it ran to the end of the file), and a following line that reads as a row of its own (as many
    fields as the header, an @ in the email column) was a row, not part of a value."""
    if sum(line.count('"') for line in lines) % 2:
        return True
    email = header.index("email")
    for line in lines[1:]:
        cells = next(csv.reader([line], delimiter=delimiter), [])
        if len(cells) == len(header) and "@" in cells[email]:
            return True
    return False


def _duplicate_column(header: list[str]) -> str | None:
    seen: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        if name in seen:
            return f"column {name!r} appears twice (columns {seen[name]} and {position})"
        seen[name] = position
    return None


class LeadImportService:
    def __init__(self, records: Records, clock: Clock, hygiene: ListHygiene | None = None) -> None:
        self.records = records
        self.clock = clock
        self.hygiene = hygiene
        self.audit = AuditTrail(records)

    def import_csv(
        self,
        tenant_id: str,
        raw: bytes | Iterable[bytes],
        *,
        list_name: str = "default",
        source: str = "",
        lawful_basis: LawfulBasis = LawfulBasis.LEGITIMATE_INTEREST,
        actor: str = "operator",
        encoding: str | None = None,
    ) -> ImportReport:
        tenant = self.records.tenant(tenant_id)
        report = ImportReport()
        raw, first = _utf8_with_header(raw, encoding)
        delimiter = sniff_delimiter(first)
        lines = _NumberedLines(_decoded_lines(raw, report))
        reader = csv.reader(lines, delimiter=delimiter)
        header_row = next(reader, None)
        if header_row is None:
            raise ImportFileError("the file is empty")
        lines.record_start()
        header = [_column(c) for c in header_row]
        if "email" not in header:
            raise ImportFileError(f"line {lines.last}: no 'email' column (found: {', '.join(header_row)})")
        duplicate = _duplicate_column(header)
        if duplicate:
            raise ImportFileError(f"line {lines.last}: {duplicate}; nothing was imported")
        now = self.clock.now()
        seen: dict[str, int] = {}
        good: list[LeadRow] = []
        documents = LeadDocuments(tenant.id, list_name, now)
        writer = _Writer(self, tenant.id, list_name, now, report)
        try:
            for row in reader:
                line, last = lines.record_start()
                if last > line and _open_quote(header, lines.taken, delimiter):
                    report.problems.append(
                        RowProblem(line, f"a quote left open: the value ran on to line {last}")
                    )
                    lines.read_again_after_first()  # the rows it swallowed are rows of their own
                    continue
                if not any(map(str.strip, row)):
                    continue
                lead = self._lead(documents, header, row, line, source, lawful_basis, report)
                if lead is None:
                    continue
                key = lead.email.lower()  # local parts are case-insensitive in practice, and lead ids agree
                if key in seen:
                    report.problems.append(RowProblem(line, f"duplicate of line {seen[key]}", lead.email))
                    continue
                if len(seen) < _SEEN_MAX:
                    seen[key] = line
                else:
                    writer.forgetful = True
                good.append(lead)
                if len(good) >= CHUNK:
                    writer.write(good)
                    good = []
        except csv.Error as exc:
            writer.write(good)  # the rows before the broken one are whole leads; say where it broke
            raise ImportFileError(
                f"line {lines.last}: not valid CSV ({exc}); the rows before it were imported "
                f"({report.imported}), none after"
            ) from exc
        writer.write(good)
        report.problems.sort(key=lambda p: p.line)
        self.audit.record(
            tenant.id,
            now,
            actor,
            "leads.import",
            list_name,
            imported=report.imported,
            rejected=report.rejected,
            skipped=len(report.skipped),
        )
        return report

    def _lead(
        self,
        documents: LeadDocuments,
        header: list[str],
        row: list[str],
        line: int,
        source: str,
        lawful_basis: LawfulBasis,
        report: ImportReport,
    ) -> LeadRow | None:
        if len(row) != len(header):
            report.problems.append(RowProblem(line, f"has {len(row)} fields, the header has {len(header)}"))
            return None
        values = {k: v.strip() for k, v in zip(header, row, strict=True)}
        raw_email = values.get("email", "")
        if not raw_email:
            report.problems.append(RowProblem(line, "missing email"))
            return None
        try:
            email = canonical_email(raw_email)  # one form (ASCII domain) for dedupe, suppression, sending
        except AddressError as exc:
            report.problems.append(RowProblem(line, f"bad address: {exc.__cause__ or exc}", raw_email))
            return None
        timezone = values.get("timezone") or None
        if timezone:
            try:
                zone(timezone)
            except ValueError as exc:
                report.problems.append(RowProblem(line, str(exc), email))
                return None
        lead_id = lead_id_for(documents.tenant_id, email)
        try:
            document = documents.document(
                lead_id=lead_id,
                email=email,
                first_name=values.get("first_name", ""),
                last_name=values.get("last_name", ""),
                company=values.get("company", ""),
                title=values.get("title", ""),
                timezone=timezone,
                country=values.get("country", ""),
                custom={k: v for k, v in values.items() if k not in KNOWN_COLUMNS and v},
                source=values.get("source") or source or "csv import",
                lawful_basis=values.get("lawful_basis") or lawful_basis,
            )
        except ValidationError as exc:
            reason = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            report.problems.append(RowProblem(line, reason, email))
            return None
        return LeadRow(line, lead_id, email, document)


class _Writer:
    """Writes good rows a chunk at a time: suppression and do-not-contact entries read ahead for the
    chunk, the leads (each with its enrolment timers) in one batched write."""

    def __init__(
        self, service: LeadImportService, tenant_id: str, list_name: str, now: datetime, report: ImportReport
    ) -> None:
        self.records, self.hygiene = service.records, service.hygiene
        self.tenant_id, self.list_name, self.now, self.report = tenant_id, list_name, now, report
        self.policy = self.hygiene.policy(tenant_id) if self.hygiene else None
        self._running: list[Campaign] | None = None
        self.forgetful = False  # past _SEEN_MAX rows: in-file duplicates are told by the store

    def running(self) -> list[Campaign]:
        if self._running is None:
            self._running = [
                c
                for c in self.records.all(Campaign, self.tenant_id)
                if c.status is CampaignStatus.RUNNING and c.lead_list == self.list_name
            ]
        return self._running

    def write(self, good: list[LeadRow]) -> None:
        if not good:
            return
        records, tenant_id, report = self.records, self.tenant_id, self.report
        running = self.running()
        partition, lead_prefix = records.entity_key(Lead, tenant_id, "")
        groups: list[list[Put | Delete]] = []
        rows: list[LeadRow] = []
        with records.read_ahead():
            keys: list[Key] = []
            suppression_keys = []  # each address hashed once: for the prefetch and the lookup
            for lead in good:
                own = records.suppression_keys(tenant_id, lead.email)
                suppression_keys.append(own)
                keys += own
                if self.hygiene is not None:
                    keys += records.domain_block_keys(tenant_id, lead.domain)
            records.prefetch(keys)
            for lead, own in zip(good, suppression_keys, strict=True):
                suppressed = records.suppression_at(own)
                if suppressed is not None:
                    report.problems.append(
                        RowProblem(lead.line, f"suppressed ({suppressed.reason.value})", lead.email)
                    )
                    continue
                verdict = _PASSED
                if self.hygiene is not None:
                    verdict = self.hygiene.check(tenant_id, lead.email, self.policy)
                    apply_verdict(lead.document, verdict)
                timers = (
                    [records.timer_put(step_timer(c, lead.id, 1, self.now)) for c in running]
                    if verdict.skip is None
                    else []
                )
                create = Put(
                    partition=partition, sort=lead_prefix + lead.id, data=lead.document, expected_version=0
                )
                groups.append([create, *timers])
                lead.verdict, lead.enrolled = verdict, len(timers)
                rows.append(lead)
        results = records.store.write_many(groups)
        taken = [lead for lead, failed in zip(rows, results, strict=True) if failed is not None]
        earlier = self._imported_now(taken)
        for lead, failed in zip(rows, results, strict=True):
            if failed is not None:
                reason = (
                    "duplicate of an earlier line"
                    if lead.id in earlier
                    else "already imported for this tenant"
                )
                report.problems.append(RowProblem(lead.line, reason, lead.email))
                continue
            verdict = lead.verdict or _PASSED
            if verdict.skip is not None:
                report.skipped.append(RowProblem(lead.line, verdict.reason, lead.email))
                continue
            report.imported += 1
            report.enrolled += lead.enrolled
            for flag in verdict.flags:
                report.flagged.append(RowProblem(lead.line, flag, lead.email))

    def _imported_now(self, leads: list[LeadRow]) -> set[str]:
        """Of leads whose create failed, those this very import wrote (a duplicate further down the file)."""
        if not leads or not self.forgetful:
            return set()
        keys = [self.records.entity_key(Lead, self.tenant_id, lead.id) for lead in leads]
        found = self.records.store.get_many(keys)
        return {
            str(item.data.get("id"))
            for item in found.values()
            if _moment(item.data.get("imported_at")) == self.now
        }


def _moment(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
