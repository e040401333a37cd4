"""The NLU inbox pages of the officials' app (``/handlaggare/inkorg``), for trainers and admins.

Trainers see the misunderstood messages grouped by shape, label a group (or many at once) with
an intent of the contract or "irrelevant", mark the words that name a permit type, and resolve
conflicts. Officials flag a user message from a case's transcript. Opening the inbox collects
new messages from the tracker store first (incremental). Routes call :class:`bot.inbox.Inbox`
only; the session, CSRF check and security headers come from the officials' app.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from sanic import Sanic
from sanic.exceptions import NotFound
from sanic.request import Request
from sanic.response import HTTPResponse, redirect
from sqlalchemy.exc import SQLAlchemyError

from bot.cases import CaseRepository
from bot.inbox import IRRELEVANT, AnnotationOutcome, Inbox, InboxError, Label
from bot.transcripts import TranscriptReader
from bot.web.officials import CASE_ROLES, PREFIX, TRAINER_ROLES, OfficialsPages, scope_for

logger = logging.getLogger(__name__)

INBOX = f"{PREFIX}/inkorg"
PER_PAGE = 25
COLLECT_BATCHES = 10  # events read per visit: at most 10 x 2,000; cron reads the rest

INTENT_SV = {
    "ask_permit": "Lov och tillstånd",
    "ask_industrial_land": "Mark, tomter och lokaler",
    "ask_skills_supply": "Rekrytering och kompetens",
    "start_business": "Starta företag",
    "request_human": "Vill prata med en handläggare",
    "case_status": "Frågar om ett ärende",
    "greet": "Hälsning",
    "goodbye": "Hej då",
    "thank": "Tack",
    "affirm": "Ja",
    "deny": "Nej",
    "bot_challenge": "Frågar om boten är en människa",
    "out_of_scope": "Utanför bottens ämnen",
    "inform": "Svar i ett formulär",
    "cancel": "Avbryt",
}
REASON_SV = {
    "nlu_fallback": "Boten var osäker",
    "low_confidence": "Låg säkerhet",
    "fallback_action": "Boten kunde inte svara",
    "flagged": "Flaggat av handläggare",
}
_KEY = re.compile(r"^[0-9a-f]{32}$")
_NUMBER = re.compile(r"[0-9]{1,9}")
_OUTCOME_PARAMS = {
    "annotated": "sparade",
    "irrelevant": "irrelevanta",
    "conflicts": "konflikter",
    "heldout": "testfil",
    "without_example": "utan",
}


def intent_label(intent: str | None) -> str:
    """Return an intent's Swedish name with its technical name, e.g. ``Tack (thank)``."""
    if not intent:
        return "–"
    return f"{INTENT_SV[intent]} ({intent})" if intent in INTENT_SV else intent


def number(value: object) -> int | None:
    """Read a whole number of at most nine ASCII digits from a form or URL (else None)."""
    return int(value) if isinstance(value, str) and _NUMBER.fullmatch(value) else None


def count_sv(number: int, singular: str, plural: str) -> str:
    """Write a count with the right Swedish form, e.g. ``1 meddelande``, ``3 meddelanden``."""
    return f"{number} {singular if number == 1 else plural}"


def ordered_intents(intents: Sequence[str]) -> list[str]:
    """Order intents for trainers: the business questions first, small talk after."""
    order = {intent: position for position, intent in enumerate(INTENT_SV)}
    return sorted(intents, key=lambda intent: order.get(intent, len(order)))


def percent(value: float | None) -> str:
    """Format a confidence as a whole percentage, ``–`` when unknown."""
    return "–" if value is None else f"{round(100 * value)} %"


def outcome_messages(args: Mapping[str, Any]) -> list[str]:
    """Turn the counts a save redirected with into Swedish sentences.

    Args:
        args: The query parameters (``sparade``, ``irrelevanta``, ``konflikter``, ``testfil``,
            ``utan``, ``losta``).

    Returns:
        One sentence per non-zero count.
    """

    def count(name: str) -> int:
        return number(args.get(name)) or 0

    texts = {
        "sparade": "Sparat som träningsexempel (data/nlu/inbox.yml): {}.",
        "irrelevanta": "Markerat som irrelevant: {}.",
        "konflikter": (
            "Hålls som konflikt, eftersom samma text redan har en annan avsikt: {}. "
            "Lös konflikten under Konflikter."
        ),
        "testfil": (
            "Finns i testfilen (tests/nlu/heldout.yml) och blir inte träningsexempel: {}. "
            "Modellen ska aldrig tränas på testfilens texter."
        ),
        "utan": "Saknade orden för tillståndet och blir inte träningsexempel: {}.",
        "losta": "Fick den valda etiketten: {}.",
    }
    return [
        text.format(count_sv(n, "meddelande", "meddelanden"))
        for name, text in texts.items()
        if (n := count(name))
    ]


def _outcome_query(outcome: AnnotationOutcome) -> str:
    return urlencode(
        {
            param: getattr(outcome, field)
            for field, param in _OUTCOME_PARAMS.items()
            if getattr(outcome, field)
        }
    )


def _label(form: Mapping[str, Any], with_span: bool) -> Label | None:
    choice = (form.get("etikett") or "").strip()
    if not choice:
        return None
    if choice == IRRELEVANT:
        return Label(None)
    if not with_span:
        return Label(choice)
    return Label(
        choice,
        (form.get("tillstand_ord") or "").strip()[:200] or None,
        (form.get("tillstand") or "").strip() or None,
    )


def register_inbox(
    app: Sanic,
    pages: OfficialsPages,
    inbox: Inbox,
    cases: CaseRepository,
    transcripts: TranscriptReader,
) -> None:
    """Add the NLU inbox pages and the transcript flag to the officials' app.

    Args:
        app: The app.
        pages: Renderer and role guard of the officials' app.
        inbox: The NLU inbox.
        cases: Case repository (flagging checks the official may see the case).
        transcripts: Tracker-store reader (the transcript a message is flagged from).
    """
    render = pages.render
    require = pages.require
    collecting = asyncio.Lock()

    def common(**context: Any) -> dict[str, Any]:
        return {
            "intent_label": intent_label,
            "reason_sv": REASON_SV,
            "percent": percent,
            "inbox_url": INBOX,
            "count_sv": count_sv,
            "irrelevant": IRRELEVANT,
            **context,
        }

    async def collect() -> bool:
        async with collecting:
            try:
                await asyncio.to_thread(inbox.collect, 2000, COLLECT_BATCHES)
            except SQLAlchemyError as error:
                logger.warning("NLU inbox: tracker store not collected (%s)", type(error).__name__)
                return False
        return True

    @app.get(INBOX)
    @require(TRAINER_ROLES)
    async def inbox_list(request: Request) -> HTTPResponse:
        collected = await collect()
        page_number = max(1, number(request.args.get("sida")) or 1)
        page = await asyncio.to_thread(inbox.groups, page_number, PER_PAGE)
        intents = ordered_intents(await asyncio.to_thread(inbox.intents))
        return render(
            request,
            "inbox.html",
            **common(
                page=page,
                intents=intents,
                collected=collected,
                messages=outcome_messages(request.args),
                error=None,
            ),
        )

    @app.post(f"{INBOX}/markera")
    @require(TRAINER_ROLES)
    async def inbox_bulk(request: Request) -> HTTPResponse:
        form = request.form or {}
        groups = request.form.getlist("grupp") if request.form else None
        keys = [key for key in groups or [] if isinstance(key, str) and _KEY.match(key)]
        label = _label(form, with_span=False)
        error = None
        if not keys:
            error = "Markera minst en grupp i listan."
        elif label is None:
            error = "Välj vad de markerade grupperna ska märkas som."
        if error is None and label is not None:
            try:
                checked = await asyncio.to_thread(inbox.check_label, label)
            except InboxError as problem:
                error = str(problem)
            else:
                outcome = await asyncio.to_thread(
                    inbox.annotate, keys, checked, request.ctx.user.email
                )
                return redirect(f"{INBOX}?{_outcome_query(outcome)}", status=303)
        page = await asyncio.to_thread(inbox.groups, 1, PER_PAGE)
        intents = ordered_intents(await asyncio.to_thread(inbox.intents))
        return render(
            request,
            "inbox.html",
            status=400,
            **common(page=page, intents=intents, collected=True, messages=[], error=error),
        )

    async def group_page(
        request: Request,
        key: str,
        error: str | None = None,
        status: int = 200,
        form: Mapping[str, Any] | None = None,
    ) -> HTTPResponse:
        group = await asyncio.to_thread(inbox.group, key) if _KEY.match(key) else None
        if group is None:
            raise NotFound("Gruppen finns inte i inkorgen.")
        intents = ordered_intents(await asyncio.to_thread(inbox.intents))
        values = form or {}
        return render(
            request,
            "inbox_group.html",
            status=status,
            **common(
                group=group,
                intents=intents,
                error=error,
                chosen=values.get("etikett") or "",
                span=(
                    values.get("tillstand_ord")
                    if form is not None
                    else group.predicted_permit_span or ""
                ),
                chosen_permit=(
                    values.get("tillstand")
                    if form is not None
                    else group.predicted_permit_type or ""
                ),
            ),
        )

    @app.get(f"{INBOX}/grupp/<key:str>")
    @require(TRAINER_ROLES)
    async def inbox_group(request: Request, key: str) -> HTTPResponse:
        return await group_page(request, key)

    @app.post(f"{INBOX}/grupp/<key:str>")
    @require(TRAINER_ROLES)
    async def inbox_annotate(request: Request, key: str) -> HTTPResponse:
        form = request.form or {}
        group = await asyncio.to_thread(inbox.group, key) if _KEY.match(key) else None
        if group is None:
            raise NotFound("Gruppen finns inte i inkorgen.")
        label = _label(form, with_span=True)
        if label is None:
            return await group_page(
                request, key, "Välj en avsikt eller Irrelevant.", status=400, form=form
            )
        try:
            checked = await asyncio.to_thread(inbox.check_label, label, group.text)
        except InboxError as problem:
            return await group_page(request, key, str(problem), status=400, form=form)
        outcome = await asyncio.to_thread(inbox.annotate, [key], checked, request.ctx.user.email)
        return redirect(f"{INBOX}?{_outcome_query(outcome)}", status=303)

    async def conflicts_page(
        request: Request, error: str | None = None, status: int = 200
    ) -> HTTPResponse:
        conflicts = await asyncio.to_thread(inbox.conflicts)
        return render(
            request,
            "inbox_conflicts.html",
            status=status,
            **common(conflicts=conflicts, error=error, messages=outcome_messages(request.args)),
        )

    @app.get(f"{INBOX}/konflikter")
    @require(TRAINER_ROLES)
    async def inbox_conflicts(request: Request) -> HTTPResponse:
        return await conflicts_page(request)

    @app.post(f"{INBOX}/konflikter/<key:str>")
    @require(TRAINER_ROLES)
    async def inbox_resolve(request: Request, key: str) -> HTTPResponse:
        if not _KEY.match(key):
            raise NotFound("Konflikten finns inte.")
        choice = ((request.form or {}).get("etikett") or "").strip()
        if not choice:
            return await conflicts_page(request, "Välj vilken etikett som ska gälla.", 400)
        try:
            resolved = await asyncio.to_thread(inbox.resolve, key, choice, request.ctx.user.email)
        except InboxError as problem:
            return await conflicts_page(request, str(problem), 400)
        if not resolved:
            raise NotFound("Konflikten finns inte.")
        return redirect(f"{INBOX}/konflikter?{urlencode({'losta': resolved})}", status=303)

    @app.post(f"{INBOX}/flagga")
    @require(CASE_ROLES)
    async def inbox_flag(request: Request) -> HTTPResponse:
        form = request.form or {}
        case_id, index = number(form.get("case_id")), number(form.get("message"))
        if case_id is None or index is None:
            raise NotFound("Ärendet finns inte.")
        case = await asyncio.to_thread(cases.get, case_id, scope_for(request.ctx.user))
        if case is None:
            raise NotFound("Ärendet finns inte.")
        transcript = await asyncio.to_thread(transcripts.transcript, case.conversation_id)
        if index >= len(transcript) or transcript[index].speaker != "user":
            return render(
                request,
                "error.html",
                status=400,
                message="Meddelandet finns inte i samtalet. Ladda om ärendet och försök igen.",
            )
        message = transcript[index]
        try:
            result = await asyncio.to_thread(
                inbox.flag, case.conversation_id, message.at, message.text, request.ctx.user.email
            )
        except InboxError as problem:
            return render(request, "error.html", status=400, message=str(problem))
        return render(
            request, "inbox_flagged.html", **common(case=case, message=message, result=result)
        )
