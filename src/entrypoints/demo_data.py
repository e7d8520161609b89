"""The demo's world: three tenants, four directions, eight identities, 1,200 generated leads.

Fixed seed, mixed providers and time zones, Cyrillic names for the Russian-speaking tenant. One
tenant's list is dirty (about 10% of its addresses hard-bounce) and one identity draws complaints:
the simulator profile below says so, and the auto-stop rules are expected to catch both.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

from adapters.simulated_ses import OutcomeRates, SimulatorProfile
from outreach_core.domain.models import CampaignStep, Quotas
from outreach_core.domain.window import SendWindow
from outreach_core.services.admin import AdminService
from outreach_core.services.leads import LeadImportService

LATIN_FIRST = [
    "Anna",
    "James",
    "Laura",
    "Peter",
    "Sofia",
    "Daniel",
    "Emma",
    "Lukas",
    "Chloe",
    "Marco",
    "Nina",
    "Oscar",
]
LATIN_LAST = ["Smith", "Müller", "Rossi", "Dubois", "Novak", "García", "Jensen", "Kowalski", "Brown", "Silva"]
CYRILLIC = [
    ("Иван", "Иванов", "ivan.ivanov"),
    ("Мария", "Смирнова", "maria.smirnova"),
    ("Алексей", "Кузнецов", "aleksei.kuznetsov"),
    ("Ольга", "Попова", "olga.popova"),
    ("Дмитрий", "Соколов", "dmitry.sokolov"),
    ("Елена", "Лебедева", "elena.lebedeva"),
    ("Сергей", "Новиков", "sergei.novikov"),
    ("Наталья", "Морозова", "natalia.morozova"),
]
CONSUMER = ["gmail.com", "outlook.com", "yahoo.com", "icloud.com"]
RUSSIAN = ["mail.ru", "yandex.ru", "bk.ru", "inbox.ru"]
COMPANY_WORDS = [
    "acme",
    "vertex",
    "bluepeak",
    "ironbridge",
    "lumen",
    "northgate",
    "quantix",
    "redwood",
    "solace",
    "tidewater",
    "umbra",
    "zenith",
]
ZONES = ["Europe/London", "Europe/Berlin", "America/New_York", "America/Chicago", "Europe/Madrid", ""]
RU_ZONES = ["Europe/Moscow", "Asia/Yekaterinburg", "Asia/Almaty", ""]
# Addresses at these domains hard-bounce in the simulator: the dirty part of initech's list.
STALE_DOMAINS = ["defunct-logistics.com", "oldmail-corp.net", "closed-retail.biz"]
# The rest of that list's dirt, which list hygiene catches before anything is sent (no DNS needed):
# throwaway addresses, typos of big domains, and an unattended mailbox.
HYGIENE_ROWS = [
    "recruit.me@mailinator.com",
    "jobs.alerts@guerrillamail.com",
    "temp.hire@yopmail.com",
    "maria.lopez@gmai.com",
    "tom.baker@yahooo.com",
    "lee.wong@outlok.com",
    "postmaster@initech-partners.com",
]
COMPLAINT_SENDER = "offers@globex-deals.ru"


@dataclass(frozen=True)
class DemoWorld:
    leads: int
    campaigns: list[tuple[str, str]]


def simulator_profile(seed: str) -> SimulatorProfile:
    return SimulatorProfile(
        seed=seed,
        default=OutcomeRates(
            bounce=0.004, soft_bounce=0.002, complaint=0.0, delay=0.03, reply=0.04, auto_reply=0.03
        ),
        domains={d: OutcomeRates(bounce=1.0) for d in STALE_DOMAINS},
        senders={COMPLAINT_SENDER: OutcomeRates(complaint=0.04)},
    )


def _csv(rows: list[dict[str, str]]) -> bytes:
    import csv
    import io

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def _latin_leads(rng: random.Random, count: int, tag: str, stale: float = 0.0) -> list[dict[str, str]]:
    rows = []
    for n in range(count):
        first, last = rng.choice(LATIN_FIRST), rng.choice(LATIN_LAST)
        company = f"{rng.choice(COMPANY_WORDS)}-{rng.choice(COMPANY_WORDS)}"
        if rng.random() < stale:
            domain = rng.choice(STALE_DOMAINS)
        elif rng.random() < 0.45:
            domain = rng.choice(CONSUMER)
        else:
            domain = f"{company}.com"
        local = f"{first}.{last}".lower().replace("ü", "u").replace("í", "i") + f"{n}{tag[:2]}"
        rows.append(
            {
                "email": f"{local}@{domain}",
                "first_name": first if rng.random() > 0.08 else "",
                "last_name": last,
                "company": company.replace("-", " ").title(),
                "timezone": rng.choice(ZONES),
                "industry": rng.choice(["logistics", "retail", "saas", "manufacturing"]),
                "source": tag,
            }
        )
    return rows


def _cyrillic_leads(rng: random.Random, count: int, tag: str) -> list[dict[str, str]]:
    rows = []
    for n in range(count):
        first, last, latin = rng.choice(CYRILLIC)
        domain = rng.choice(RUSSIAN) if rng.random() < 0.6 else f"{rng.choice(COMPANY_WORDS)}-trans.ru"
        rows.append(
            {
                "email": f"{latin}{n}@{domain}",
                "first_name": first,
                "last_name": last,
                "company": f"ООО «{rng.choice(['Вектор', 'Гранит', 'Север', 'Альфа'])}»",
                "timezone": rng.choice(RU_ZONES),
                "industry": "логистика",
                "source": tag,
            }
        )
    return rows


def build_world(admin: AdminService, leads: LeadImportService, seed: int = 7) -> DemoWorld:
    rng = random.Random(seed)
    london = SendWindow(timezone="Europe/London")
    admin.add_tenant(
        "northwind",
        "Northwind Analytics",
        "1 Canal Street, Manchester M1 3HE, UK",
        legal_name="Northwind Analytics Ltd",
        privacy_url="https://northwind-analytics.com/privacy",
        window=london,
        quotas=Quotas(daily=600, hourly=60),
    )
    admin.add_tenant(
        "globex",
        "Globex Logistics",
        "ул. Тверская, 7, Москва, 125009, Россия",
        legal_name="ООО «Глобекс Логистика»",
        window=SendWindow(timezone="Europe/Moscow"),
        quotas=Quotas(daily=600, hourly=60),
    )
    admin.add_tenant(
        "initech",
        "Initech Recruiting",
        "4120 Freidrich Lane, Austin, TX 78744, USA",
        window=SendWindow(timezone="America/Chicago"),
        quotas=Quotas(daily=400, hourly=40),
    )
    for tenant, direction, name in [
        ("northwind", "data-audit", "Data quality audits"),
        ("northwind", "bi-dashboards", "BI dashboards"),
        ("globex", "fleet-tracking", "Fleet tracking"),
        ("initech", "hiring", "Engineering hiring"),
    ]:
        admin.add_direction(tenant, direction, name)
    for tenant, ident, email, name, directions in [
        ("northwind", "alex", "alex@northwind-analytics.com", "Alex Turner", ("data-audit",)),
        ("northwind", "sam", "sam@northwind-analytics.com", "Sam Patel", ("data-audit", "bi-dashboards")),
        ("northwind", "kim", "kim@nw-insights.com", "Kim Larsen", ("bi-dashboards",)),
        ("globex", "olga", "olga@globex-logistics.ru", "Ольга Петрова", ()),
        ("globex", "pavel", "pavel@globex-logistics.ru", "Павел Орлов", ()),
        ("globex", "offers", COMPLAINT_SENDER, "Globex Offers", ()),
        ("initech", "dana", "dana@initech-talent.com", "Dana Reyes", ()),
        ("initech", "lee", "lee@initech-talent.com", "Lee Chen", ()),
    ]:
        admin.add_identity(tenant, ident, email, display_name=name, directions=directions, daily_cap=90)
    _templates(admin)
    campaigns = [
        ("northwind", "audit-q1", "data-audit", "nw-audit", "nw"),
        ("northwind", "dash-q1", "bi-dashboards", "nw-dash", "nw"),
        ("globex", "fleet-q1", "fleet-tracking", "gx-fleet", "gx"),
        ("initech", "hiring-q1", "hiring", "it-hiring", "it"),
    ]
    for tenant, campaign, direction, lead_list, prefix in campaigns:
        admin.add_campaign(tenant, campaign, direction, _steps(prefix), lead_list=lead_list)
    lists = [
        ("northwind", "nw-audit", _latin_leads(rng, 300, "trade-show-2025")),
        ("northwind", "nw-dash", _latin_leads(rng, 200, "webinar-signups")),
        ("globex", "gx-fleet", _cyrillic_leads(rng, 400, "partner-referrals")),
        (
            "initech",
            "it-hiring",
            _latin_leads(rng, 300, "purchased-list-2019", stale=0.10) + _hygiene_rows("purchased-list-2019"),
        ),
    ]
    total = 0
    for tenant, lead_list, rows in lists:
        total += leads.import_csv(tenant, _csv(rows), list_name=lead_list).imported
    for tenant, campaign, *_ in campaigns:
        admin.start_campaign(tenant, campaign)
    return DemoWorld(leads=total, campaigns=[(t, c) for t, c, *_ in campaigns])


def _hygiene_rows(tag: str) -> list[dict[str, str]]:
    blank = {"first_name": "", "last_name": "", "company": "", "timezone": "", "industry": "", "source": tag}
    return [{"email": email, **blank} for email in HYGIENE_ROWS]


def _steps(prefix: str) -> list[CampaignStep]:
    return [
        CampaignStep(number=1, template_id=f"{prefix}-1"),
        CampaignStep(number=2, template_id=f"{prefix}-2", delay=timedelta(days=2)),
        CampaignStep(number=3, template_id=f"{prefix}-3", delay=timedelta(days=3)),
    ]


def _templates(admin: AdminService) -> None:
    for prefix, tenant in (("nw", "northwind"), ("it", "initech")):
        admin.add_template(
            tenant,
            f"{prefix}-1",
            "{Quick question|A thought} about {{company|your team}}",
            "{Hi|Hello} {{first_name|there}},\n\nI noticed {{company|your company}} works in "
            "{{industry|your industry}}. {We help teams like yours|Our clients} cut reporting time in "
            "half.\n\nWorth a 15-minute call next week?",
            fields=("industry",),  # a column of the lists imported after the templates
        )
        admin.add_template(
            tenant,
            f"{prefix}-2",
            "",
            "{Hi|Hello again} {{first_name|there}}, just bumping this up in case it got buried.",
        )
        admin.add_template(
            tenant,
            f"{prefix}-3",
            "",
            "{{first_name|Hi}}, last note from me: if now is not the right time, no worries at all.",
        )
    admin.add_template(
        "globex",
        "gx-1",
        "{Вопрос|Идея} для {{company|вашей компании}}",
        "{Здравствуйте|Добрый день}, {{first_name|коллега}}!\n\nМы помогаем компаниям в сфере "
        "«{{industry|логистика}}» отслеживать автопарк в реальном времени.\n\nУдобно созвониться на "
        "этой неделе?",
        fields=("industry",),
    )
    admin.add_template("globex", "gx-2", "", "{{first_name|Коллега}}, напоминаю о письме выше — актуально?")
    admin.add_template(
        "globex",
        "gx-3",
        "",
        "{{first_name|Коллега}}, последнее письмо: если неактуально, просто дайте знать.",
    )
