"""An imported lead's stored document built straight from its checked row: what
`Lead(...).model_dump(mode="json")` gives, without building and dumping a model for each row of a list.

What an import's rows share (tenant, list, import time, the defaults) is validated once, by building
one Lead. A row's own values are strings the import has checked already (its address, its time zone)
and a lawful basis; when that basis is one of LawfulBasis, the row cannot fail Lead's validation and
its document is the shared part with the row's values. Anything else goes through Lead(...) itself, so
a row that fails does so in pydantic's own words, as it always did. Both ways give the same document,
and the same after list hygiene: tests/property/test_lead_import_properties.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from outreach_core.domain.models import LawfulBasis, Lead, LeadStatus
from outreach_core.policies.hygiene import HygieneVerdict

_BASES = frozenset(basis.value for basis in LawfulBasis)


@dataclass(slots=True)
class LeadRow:
    """A good row on its way to the store: its file line, the lead's id and address, its document;
    then list hygiene's verdict on it and the campaigns it is enrolled in."""

    line: int
    id: str
    email: str
    document: dict[str, Any]
    verdict: HygieneVerdict | None = None
    enrolled: int = 0

    @property
    def domain(self) -> str:
        return self.email.rsplit("@", 1)[-1]


class LeadDocuments:
    """The documents of one import's leads (one tenant, one list, one import time)."""

    def __init__(self, tenant_id: str, list_name: str, imported_at: datetime) -> None:
        self.tenant_id, self.list_name, self.imported_at = tenant_id, list_name, imported_at
        try:
            shared = Lead(
                tenant_id=tenant_id,
                id="-",
                email="-",
                source="-",
                list_name=list_name,
                imported_at=imported_at,
            )
        except ValidationError:
            self._shared: dict[str, Any] | None = None  # every row says so, through Lead(...) itself
        else:
            # The list fields as tuples: the same JSON, and nothing for the garbage collector to track
            # in each of a big list's documents while its batch is on the way.
            self._shared = {**shared.model_dump(mode="json"), "flags": (), "removed_from": ()}

    def document(
        self,
        *,
        lead_id: str,
        email: str,
        first_name: str,
        last_name: str,
        company: str,
        title: str,
        timezone: str | None,
        country: str,
        custom: dict[str, str],
        source: str,
        lawful_basis: LawfulBasis | str,
    ) -> dict[str, Any]:
        """The lead's document; raises ValidationError where Lead(...) would."""
        if self._shared is not None and source and lawful_basis in _BASES:
            return {
                **self._shared,
                "id": lead_id,
                "email": email,
                "first_name": first_name,
                "last_name": last_name,
                "company": company,
                "title": title,
                "timezone": timezone,
                "country": country,
                "custom": custom,
                "source": source,
                "lawful_basis": LawfulBasis(lawful_basis).value,
            }
        return Lead(
            tenant_id=self.tenant_id,
            id=lead_id,
            email=email,
            first_name=first_name,
            last_name=last_name,
            company=company,
            title=title,
            timezone=timezone,
            country=country,
            custom=custom,
            source=source,
            lawful_basis=lawful_basis,
            list_name=self.list_name,
            imported_at=self.imported_at,
        ).model_dump(mode="json")


def apply_verdict(document: dict[str, Any], verdict: HygieneVerdict) -> None:
    """The document as ListHygiene.skip leaves the lead: skipped with its reason, or flagged."""
    if verdict.skip is not None:
        document["status"] = LeadStatus.SKIPPED.value
        document["skip_code"] = verdict.skip.value
        document["status_reason"] = verdict.reason
    if verdict.flags or verdict.skip is not None:
        document["flags"] = verdict.flags
