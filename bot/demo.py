"""Demo cases so the officials' app has something to show on a fresh install (marked as demo)."""

from __future__ import annotations

import datetime as dt

from bot.cases import CaseRepository, NewCase
from bot.models import utcnow

DEMO_PREFIX = "demo:"

_DEMO_CASES = (
    ("permit", "bygglov", "bygglov", "Demo Verkstad AB", "556016-0680",
     "Vill bygga ut verkstaden med 200 m². Behöver vi bygglov?", 3),
    ("permit", "serveringstillstand", "tillstand", "Demo Bistro HB", None,
     "Vi öppnar restaurang i maj och vill servera vin och öl.", 2),
    ("industrial_land", None, "naringsliv", "Demo Logistik AB", None,
     "Söker cirka 10 000 m² mark för lager nära E4.", 1),
    ("skills_supply", None, "kompetens", "Demo Omsorg AB", None,
     "Vi behöver rekrytera fem undersköterskor till hösten.", 0),
    ("start_business", None, "naringsliv", "inget företag än", None,
     "Vill starta kafé och undrar hur jag registrerar firman.", 0),
)  # fmt: skip


def seed_demo_cases(repository: CaseRepository, now: dt.datetime | None = None) -> int:
    """Add the demo cases unless they exist already (idempotent).

    Args:
        repository: The case repository.
        now: Reference time; cases are back-dated from it.

    Returns:
        How many demo cases were created by this call.
    """
    now = now or utcnow()
    created = 0
    for index, (topic, permit, unit, company, org, description, days_ago) in enumerate(_DEMO_CASES):
        _case, new = repository.create(
            NewCase(
                idempotency_key=f"{DEMO_PREFIX}{index}",
                topic=topic,
                permit_type=permit,
                unit=unit,
                contact_name="Demo Demosson",
                company_name=company,
                org_number=org,
                contact_email=f"demo{index}@example.com",
                description=f"[DEMO] {description}",
                conversation_id=f"{DEMO_PREFIX}{index}",
            ),
            now=now - dt.timedelta(days=days_ago),
        )
        created += int(new)
    return created
