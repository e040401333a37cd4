"""Swedish answers composed from the knowledge files (pure functions, no I/O).

Plain language: "du", short sentences, a link to read more.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from bot.knowledge import Knowledge, PermitInfo, Plot, Unit
from bot.worktime import STOCKHOLM, format_date_sv

MAX_PLOTS_SHOWN = 5
# The permit types offered as buttons when the question named none.
COMMON_PERMITS = (
    "bygglov",
    "livsmedelsregistrering",
    "serveringstillstand",
    "miljofarlig_verksamhet",
    "skyltlov",
    "uteservering",
    "brandfarlig_vara",
    "hygienisk_verksamhet",
)


@dataclasses.dataclass(frozen=True)
class Button:
    """A quick-reply button."""

    title: str
    payload: str


@dataclasses.dataclass(frozen=True)
class Reply:
    """One bot message: text and optional buttons."""

    text: str
    buttons: tuple[Button, ...] = ()


def format_number(value: int) -> str:
    """Format an integer with a space as thousands separator (``12 000``)."""
    return f"{value:,}".replace(",", " ")


def permit_answer(info: PermitInfo, unit: Unit) -> Reply:
    """Explain a permit from the guide.

    Args:
        info: The permit guide entry.
        unit: The unit that handles it.

    Returns:
        The answer.
    """
    submit = "\n".join(f"- {item}" for item in info.submit)
    text = (
        f"{info.name}: {info.what}\n\n"
        f"När behövs det? {info.when_needed}\n\n"
        f"Det här skickar du in:\n{submit}\n\n"
        f"Handläggningstid: {info.handling_time}\n"
        f"Avgift: {info.fee}\n"
        f"Ansvarig: {unit.name}, telefon {unit.phone}, e-post {unit.email}.\n"
        f"Läs mer: {info.link}"
    )
    return Reply(text)


def ask_which_permit(knowledge: Knowledge) -> Reply:
    """Ask which permit the question is about, with buttons for the common ones.

    Args:
        knowledge: The loaded knowledge.

    Returns:
        The question.
    """
    buttons = tuple(
        Button(
            knowledge.permits[permit].name,
            f'/ask_permit{{"permit_type":"{permit}"}}',
        )
        for permit in COMMON_PERMITS
    )
    return Reply(
        "Vilket tillstånd eller lov gäller det? Välj nedan eller skriv med egna ord, "
        'till exempel "bygglov för en lagerhall".',
        buttons,
    )


def plot_line(plot: Plot) -> str:
    """Describe one plot on a line."""
    services = ", ".join(plot.services) if plot.services else "inga anslutningar"
    return (
        f"- {plot.id}, {plot.area}: {format_number(plot.size_m2)} m², "
        f"{format_number(plot.price_per_m2)} kr/m², {plot.zoning}, {services}"
    )


def plots_answer(
    knowledge: Knowledge, min_size_m2: int | None, area: str | None
) -> tuple[Reply, bool]:
    """List available plots, filtered by size and area when given.

    Args:
        knowledge: The loaded knowledge.
        min_size_m2: Requested size in m², or None.
        area: Requested area name as typed, or None.

    Returns:
        The answer and whether any plot matched the filters.
    """
    plots = knowledge.find_plots(min_size_m2=min_size_m2, area=area)
    wanted = []
    if min_size_m2:
        wanted.append(f"cirka {format_number(min_size_m2)} m²")
    if area:
        wanted.append(f"i {area}")
    if plots:
        intro = (
            f"Här är lediga tomter som passar ({', '.join(wanted)}):"
            if wanted
            else "Här är kommunens lediga tomter för verksamheter:"
        )
        matched = True
    else:
        plots = knowledge.find_plots()
        intro = (
            f"Jag hittar ingen ledig tomt som passar ({', '.join(wanted)}). "
            "Här är de lediga tomter som finns:"
        )
        matched = False
    lines = "\n".join(plot_line(plot) for plot in plots[:MAX_PLOTS_SHOWN])
    more = f"\n…och {len(plots) - MAX_PLOTS_SHOWN} till." if len(plots) > MAX_PLOTS_SHOWN else ""
    topic = knowledge.topics["industrial_land"]
    text = f"{intro}\n{lines}{more}\n\nPriserna är exempel (demodata). Läs mer: {topic.link}"
    return Reply(text), matched


def topic_answer(knowledge: Knowledge, topic_id: str) -> Reply:
    """Answer a topic (skills supply, starting a business) from the routing table.

    Args:
        knowledge: The loaded knowledge.
        topic_id: One of the case topics.

    Returns:
        The answer with the responsible unit's contact details.
    """
    topic = knowledge.topics[topic_id]
    unit = knowledge.unit_for(topic_id)
    return Reply(
        f"{topic.answer}\n\n"
        f"Kontakt: {unit.name}, telefon {unit.phone}, e-post {unit.email}.\n"
        f"Läs mer: {topic.link}"
    )


def human_contact_answer(unit: Unit, now: dt.datetime) -> Reply:
    """Tell how to reach a person now, or when the unit opens.

    Args:
        unit: The unit that handles the enquiry.
        now: The current time (timezone-aware).

    Returns:
        The answer.
    """
    if unit.is_open(now):
        text = (
            f"{unit.name} har öppet nu. Ring {unit.phone} eller mejla {unit.email}. "
            f"Öppettider: {unit.opening_hours_text()}."
        )
    else:
        opens = unit.next_opening(now).astimezone(STOCKHOLM)
        text = (
            f"{unit.name} har stängt just nu. De öppnar igen {format_date_sv(opens.date())} "
            f"klockan {opens:%H:%M}. Öppettider: {unit.opening_hours_text()}. "
            f"Du kan mejla {unit.email} när som helst."
        )
    return Reply(text)
