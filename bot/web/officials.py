"""The officials' app under ``/handlaggare``: login, cases, actions, dashboard and exports.

Every page except the login page needs a logged-in user. Officials see the cases of their own
unit, admins see all, trainers see only the dashboard. A case outside the user's scope answers
404, exactly like a case that does not exist. Every POST needs the session's CSRF token.
Routes call repositories only; they contain no SQL.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import functools
import logging
from collections.abc import Callable, Coroutine, Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment
from sanic import Sanic
from sanic.exceptions import NotFound
from sanic.request import Request
from sanic.response import HTTPResponse, html, redirect

from bot.accounts import ROLE_NAMES_SV, ROLES, AccountError, UserRecord, UserRepository
from bot.cases import (
    RESPONSE_CHANNELS,
    SORTS,
    STATUSES,
    CaseActionError,
    CaseNotFoundError,
    CaseQuery,
    CaseRecord,
    CaseRepository,
    CaseScope,
)
from bot.dashboard import GROUPINGS, PERIODS, FigureQuery, FigureRepository, FigureRow
from bot.exports import csv_lines
from bot.knowledge import Knowledge, get_knowledge
from bot.models import utcnow
from bot.transcripts import TranscriptReader
from bot.validation import clean_text
from bot.web.charts import bar_chart
from bot.web.security import SESSION_COOKIE, SessionSigner
from bot.worktime import STOCKHOLM

logger = logging.getLogger(__name__)

PREFIX = "/handlaggare"
LOGIN_PATH = f"{PREFIX}/logga-in"
CASE_ROLES = frozenset({"official", "admin"})
ADMIN_ROLES = frozenset({"admin"})
ALL_ROLES = frozenset({"official", "trainer", "admin"})
TRAINER_ROLES = frozenset({"trainer", "admin"})
MAX_ID = 2**63  # ids in URLs beyond a 64-bit integer cannot exist (404, not a database error)

TOPIC_SV = {
    "permit": "Lov och tillstånd",
    "industrial_land": "Mark och lokaler",
    "skills_supply": "Kompetensförsörjning",
    "start_business": "Starta företag",
    "other": "Övrigt",
}
STATUS_SV = {"open": "Ny", "assigned": "Tilldelad", "answered": "Besvarad", "closed": "Avslutad"}
CHANNEL_SV = {"phone": "Telefon", "email": "E-post", "meeting": "Möte"}
EVENT_SV = {
    "created": "Registrerat av boten",
    "assigned": "Tilldelat",
    "answered": "Första svar",
    "noted": "Anteckning",
    "closed": "Avslutat",
    "reopened": "Öppnat igen",
    "anonymised": "Anonymiserat (gallring)",
}
SORT_SV = {
    "newest": "Nyast först",
    "oldest": "Äldst först",
    "due": "Svar senast",
    "reference": "Ärendenummer",
    "company": "Företag",
}
PERIOD_SV = {"week": "Vecka", "month": "Månad"}
GROUPING_SV = {"unit": "Enhet", "topic": "Ämne", "unit_topic": "Enhet och ämne"}
# CSP, framing, nosniff and referrer headers are added to every page of the web app
# (bot.web.security.register_security_headers); the officials' pages are also never cached.
SECURITY_HEADERS = {"Cache-Control": "no-store"}

Handler = Callable[..., Coroutine[Any, Any, HTTPResponse]]


@dataclasses.dataclass(frozen=True)
class OfficialsServices:
    """What the officials' app works with.

    Attributes:
        cases: Case repository.
        users: Account repository.
        figures: Dashboard figures.
        transcripts: Tracker-store reader.
        signer: Session and CSRF signer.
        templates: Jinja2 environment with autoescape.
        login_delay: Seconds to wait after a failed login.
        secure_cookies: Send the session cookie only over HTTPS.
        now: Clock (replaceable in tests).
    """

    cases: CaseRepository
    users: UserRepository
    figures: FigureRepository
    transcripts: TranscriptReader
    signer: SessionSigner
    templates: Environment
    login_delay: float = 1.0
    secure_cookies: bool = False
    now: Callable[[], dt.datetime] = utcnow


@dataclasses.dataclass(frozen=True)
class OfficialsPages:
    """What other parts of the officials' app use to add their pages under ``/handlaggare``.

    The session, CSRF check and security headers come from the app's middleware; a module that
    adds pages (the NLU inbox, the model registry) only renders and guards its handlers.

    Attributes:
        render: ``render(request, template, status=200, **context)`` renders
            ``templates/officials/<template>`` with the user, CSRF token and common labels.
        require: ``@require(roles)`` lets only logged-in users with one of the roles in.
    """

    render: Callable[..., HTTPResponse]
    require: Callable[[frozenset[str]], Callable[[Handler], Handler]]


def scope_for(user: UserRecord) -> CaseScope:
    """Return which cases a user may see.

    Args:
        user: The logged-in user.

    Returns:
        All cases for admins, the own unit for officials, none for trainers.
    """
    if user.role == "admin":
        return CaseScope(None)
    if user.role == "official" and user.unit:
        return CaseScope(frozenset({user.unit}))
    return CaseScope(frozenset())


def local_time(value: dt.datetime | None) -> str:
    """Format a UTC time as Stockholm time, ``YYYY-MM-DD HH:MM``."""
    return value.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M") if value else "–"


def working_duration(seconds: int | None) -> str:
    """Format working seconds as hours and minutes, e.g. ``3 h 05 min``."""
    if seconds is None:
        return "–"
    hours, rest = divmod(int(seconds) // 60, 60)
    return f"{hours} h {rest:02d} min"


def hours_decimal(seconds: int | None) -> str:
    """Format working seconds as hours with one decimal and a decimal comma (for CSV)."""
    return "" if seconds is None else f"{seconds / 3600:.1f}".replace(".", ",")


def _parse_date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _parse_int(value: str | None, default: int) -> int:
    try:
        return int(value) if value else default
    except ValueError:
        return default


def _choice(value: str | None, allowed: Iterable[str]) -> str | None:
    return value if value in set(allowed) else None


def form_note(value: str | None, max_length: int = 4000) -> str:
    """Clean an official's note: no control characters, line breaks kept, bounded length.

    Args:
        value: The note as posted.
        max_length: Longest note kept.

    Returns:
        The cleaned note (may be empty).
    """
    lines = (clean_text(line, max_length) for line in (value or "").splitlines())
    return "\n".join(lines).strip()[:max_length]


def parse_case_query(args: Mapping[str, Any], knowledge: Knowledge) -> CaseQuery:
    """Build the case-list query from URL parameters, ignoring invalid values.

    Args:
        args: The request's query parameters (``request.args``).
        knowledge: For the known units, topics and permit types.

    Returns:
        The query.
    """

    def get(name: str) -> str | None:
        value = args.get(name)
        return value.strip() if isinstance(value, str) and value.strip() else None

    return CaseQuery(
        unit=_choice(get("enhet"), knowledge.units),
        topic=_choice(get("amne"), knowledge.topics),
        permit_type=_choice(get("tillstand"), knowledge.permits),
        status=_choice(get("status"), STATUSES),
        overdue=get("forsenade") == "1",
        date_from=_parse_date(get("fran")),
        date_to=_parse_date(get("till")),
        search=(get("sok") or "")[:100] or None,
        sort=_choice(get("sortering"), SORTS) or "newest",
        page=max(1, _parse_int(get("sida"), 1)),
        per_page=25,
    )


def parse_figure_query(args: Mapping[str, Any]) -> FigureQuery:
    """Build the dashboard query from URL parameters.

    Args:
        args: The request's query parameters.

    Returns:
        The query (defaults: per month, per unit, all dates).
    """
    return FigureQuery(
        period=_choice(args.get("period"), PERIODS) or "month",
        grouping=_choice(args.get("gruppering"), GROUPINGS) or "unit",
        date_from=_parse_date(args.get("fran")),
        date_to=_parse_date(args.get("till")),
    )


def register_officials(app: Sanic, services: OfficialsServices) -> OfficialsPages:
    """Add the officials' app routes and middleware to a Sanic app.

    Args:
        app: The app.
        services: Repositories, signer and templates.

    Returns:
        The renderer and role guard, for modules that add further pages.
    """
    signer = services.signer

    def render(request: Request, name: str, status: int = 200, **context: Any) -> HTTPResponse:
        knowledge = get_knowledge()
        session = request.ctx.session
        page = services.templates.get_template(f"officials/{name}").render(
            user=request.ctx.user,
            csrf_token=signer.csrf_token(session),
            role_sv=ROLE_NAMES_SV,
            topic_sv=TOPIC_SV,
            status_sv=STATUS_SV,
            channel_sv=CHANNEL_SV,
            event_sv=EVENT_SV,
            units=knowledge.units,
            permits=knowledge.permits,
            local_time=local_time,
            duration=working_duration,
            prefix=PREFIX,
            **context,
        )
        return html(page, status=status)

    def unit_name(unit: str) -> str:
        known = get_knowledge().units.get(unit)
        return known.name if known else unit

    def require(roles: frozenset[str]) -> Callable[[Handler], Handler]:
        def decorate(handler: Handler) -> Handler:
            @functools.wraps(handler)
            async def wrapper(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
                user: UserRecord | None = request.ctx.user
                if user is None:
                    target = request.path + (
                        f"?{request.query_string}" if request.query_string else ""
                    )
                    return redirect(f"{LOGIN_PATH}?{urlencode({'nasta': target})}")
                if user.role not in roles:
                    return render(
                        request,
                        "error.html",
                        status=403,
                        message="Du har inte behörighet till sidan.",
                    )
                return await handler(request, *args, **kwargs)

            return wrapper

        return decorate

    @app.middleware("request")  # type: ignore[no-untyped-call]
    async def load_session(request: Request) -> HTTPResponse | None:
        request.ctx.user = None
        request.ctx.session = None
        request.ctx.session_changed = False
        if not request.path.startswith(PREFIX):
            return None
        session = signer.loads(request.cookies.get(SESSION_COOKIE))
        if session is None:
            session = signer.new_session()
            request.ctx.session_changed = True
        request.ctx.session = session
        if isinstance(session.get("u"), int):
            user = services.users.get(session["u"])
            if user is not None and user.active and session.get("v") == user.session_version:
                request.ctx.user = user
        if request.method == "POST":
            token = request.form.get("csrf_token") if request.form else None
            if not signer.csrf_valid(session, token or request.headers.get("x-csrf-token")):
                logger.info("Rejected a POST without a valid CSRF token")
                return render(
                    request,
                    "error.html",
                    status=403,
                    message="Formuläret har gått ut. Ladda om sidan och försök igen.",
                )
        if any(not 0 <= value < MAX_ID for value in _int_params(request)):
            raise NotFound("Sidan eller ärendet finns inte.")  # no database integer that big
        return None

    @app.middleware("response")  # type: ignore[no-untyped-call]
    async def save_session(request: Request, response: HTTPResponse) -> None:
        if not request.path.startswith(PREFIX) or getattr(request.ctx, "session", None) is None:
            return
        for header, value in SECURITY_HEADERS.items():
            response.headers.setdefault(header, value)
        if request.ctx.session_changed:
            response.cookies[SESSION_COOKIE] = signer.dumps(request.ctx.session)
            cookie = response.cookies[SESSION_COOKIE]
            cookie["httponly"] = True
            cookie["samesite"] = "Lax"
            cookie["path"] = PREFIX
            cookie["max-age"] = signer.max_age
            if services.secure_cookies:
                cookie["secure"] = True

    def start_session(request: Request, user: UserRecord | None) -> None:
        # A new nonce at every login and logout: no session fixation, old CSRF tokens die.
        request.ctx.session = signer.new_session(
            user.id if user else None, user.session_version if user else 0
        )
        request.ctx.session_changed = True

    @app.exception(NotFound)  # type: ignore[no-untyped-call]
    async def not_found(request: Request, error: Exception) -> HTTPResponse:
        if getattr(request.ctx, "session", None) is None:
            return app.error_handler.default(request, error)  # type: ignore[no-untyped-call,no-any-return]
        return render(request, "error.html", status=404, message="Sidan eller ärendet finns inte.")

    @app.get(PREFIX)
    async def officials_home(request: Request) -> HTTPResponse:
        user = request.ctx.user
        if user is None:
            return redirect(LOGIN_PATH)
        return redirect(f"{PREFIX}/arenden" if user.role in CASE_ROLES else f"{PREFIX}/oversikt")

    @app.route(LOGIN_PATH, methods=["GET", "POST"])
    async def login(request: Request) -> HTTPResponse:
        posted = request.form.get("nasta") if request.method == "POST" and request.form else None
        next_url = posted or request.args.get("nasta")
        if (
            not isinstance(next_url, str)
            or not next_url.startswith(f"{PREFIX}/")
            or "//" in next_url
        ):
            next_url = PREFIX
        if request.method == "GET":
            return render(request, "login.html", next_url=next_url, error=None, email="")
        email = clean_text(request.form.get("email"))
        password = request.form.get("password") or ""
        address = request.remote_addr or request.ip or "unknown"
        result = await asyncio.to_thread(services.users.authenticate, email, password, address)
        if result.user is None:
            if services.login_delay:
                await asyncio.sleep(services.login_delay)
            if result.locked_until is not None:
                error = (
                    "För många misslyckade inloggningar. Försök igen efter "
                    f"{local_time(result.locked_until)}."
                )
            else:
                error = "Fel e-postadress eller lösenord."
            return render(
                request, "login.html", status=401, next_url=next_url, error=error, email=email
            )
        start_session(request, result.user)
        return redirect(next_url, status=303)

    @app.post(f"{PREFIX}/logga-ut")
    async def logout(request: Request) -> HTTPResponse:
        if request.ctx.user is not None:
            services.users.revoke_sessions(request.ctx.user.id)  # copies of the cookie too
        start_session(request, None)
        return redirect(LOGIN_PATH, status=303)

    @app.get(f"{PREFIX}/arenden")
    @require(CASE_ROLES)
    async def case_list(request: Request) -> HTTPResponse:
        knowledge = get_knowledge()
        query = parse_case_query(request.args, knowledge)
        now = services.now()
        page = services.cases.find(query, scope_for(request.ctx.user), now)
        params = {key: value for key, value in request.args.items() if key != "sida"}

        def page_url(number: int) -> str:
            return f"{PREFIX}/arenden?{urlencode({**params, 'sida': number}, doseq=True)}"

        export_url = f"{PREFIX}/export/arenden.csv?{urlencode(params, doseq=True)}"
        return render(
            request,
            "cases.html",
            query=query,
            page=page,
            now=now,
            page_url=page_url,
            export_url=export_url,
            statuses=STATUSES,
            sorts=SORT_SV,
            topics=knowledge.topics,
            visible_units=_visible_units(request.ctx.user, knowledge),
        )

    @app.get(f"{PREFIX}/arenden/<case_id:int>")
    @require(CASE_ROLES)
    async def case_detail(request: Request, case_id: int) -> HTTPResponse:
        return _case_page(request, case_id)

    def _case_page(
        request: Request, case_id: int, error: str | None = None, status: int = 200
    ) -> HTTPResponse:
        case = services.cases.get(case_id, scope_for(request.ctx.user))
        if case is None:
            raise NotFound("Ärendet finns inte.")
        return render(
            request,
            "case.html",
            status=status,
            case=case,
            now=services.now(),
            error=error,
            unit_label=unit_name(case.unit),
            assignee=services.cases.assignee_name(case),
            assignable=services.users.assignable(case.unit),
            events=services.cases.events(case.id),
            transcript=services.transcripts.transcript(case.conversation_id),
            channels=RESPONSE_CHANNELS,
        )

    @app.post(f"{PREFIX}/arenden/<case_id:int>/<action:str>")
    @require(CASE_ROLES)
    async def case_action(request: Request, case_id: int, action: str) -> HTTPResponse:
        user: UserRecord = request.ctx.user
        scope = scope_for(user)
        form = request.form
        note = form_note(form.get("note"))
        cases = services.cases
        now = services.now()
        actions: dict[str, Callable[[], CaseRecord]] = {
            "tilldela": lambda: cases.assign(
                case_id, scope, _parse_int(form.get("assignee"), 0), user.email, now
            ),
            "svar": lambda: cases.record_first_response(
                case_id, scope, form.get("channel") or "", note, user.email, now
            ),
            "anteckning": lambda: cases.add_note(case_id, scope, note, user.email, now),
            "avsluta": lambda: cases.close(case_id, scope, user.email, note, now),
            "ateroppna": lambda: cases.reopen(case_id, scope, user.email, note, now),
        }
        act = actions.get(action)
        if act is None:
            raise NotFound("Okänd åtgärd.")
        try:
            act()
        except CaseNotFoundError as error:
            raise NotFound("Ärendet finns inte.") from error
        except CaseActionError as error:
            return _case_page(request, case_id, error=str(error), status=409)
        return redirect(f"{PREFIX}/arenden/{case_id}", status=303)

    @app.get(f"{PREFIX}/oversikt")
    @require(ALL_ROLES)
    async def dashboard(request: Request) -> HTTPResponse:
        query = parse_figure_query(request.args)
        figures = services.figures.figures(
            query, _figure_scope(request.ctx.user), services.now(), services.transcripts
        )
        label = PERIOD_SV[query.period]
        charts = [
            bar_chart(
                f"Ärenden per {label.lower()}",
                [(row.period, float(row.cases)) for row in figures.per_period],
                value_format="{:.0f}",
            ),
            bar_chart(
                f"Andel besvarade inom servicelöftet per {label.lower()} (%)",
                [
                    (row.period, 100 * (row.share_within_promise or 0.0))
                    for row in figures.per_period
                ],
                value_format="{:.0f} %",
                maximum=100.0,
            ),
        ]
        params = urlencode({key: value for key, value in request.args.items()}, doseq=True)
        return render(
            request,
            "dashboard.html",
            query=query,
            figures=figures,
            charts=charts,
            periods=PERIOD_SV,
            groupings=GROUPING_SV,
            unit_name=unit_name,
            share=_share,
            export_url=f"{PREFIX}/export/statistik.csv?{params}",
        )

    def users_page(request: Request, error: str | None = None, status: int = 200) -> HTTPResponse:
        return render(
            request,
            "users.html",
            status=status,
            error=error,
            accounts=services.users.all(),
            roles=ROLES,
        )

    @app.get(f"{PREFIX}/anvandare")
    @require(ADMIN_ROLES)
    async def users(request: Request) -> HTTPResponse:
        return users_page(request)

    @app.post(f"{PREFIX}/anvandare")
    @require(ADMIN_ROLES)
    async def create_user(request: Request) -> HTTPResponse:
        form = request.form
        unit = form.get("unit") or None
        if unit is not None and unit not in get_knowledge().units:
            return users_page(request, error="Okänd enhet.", status=400)
        try:
            await asyncio.to_thread(
                services.users.create,
                clean_text(form.get("email")),
                clean_text(form.get("name")),
                form.get("role") or "",
                form.get("password") or "",
                unit,
            )
        except AccountError as error:
            return users_page(request, error=str(error), status=400)
        return redirect(f"{PREFIX}/anvandare", status=303)

    @app.post(f"{PREFIX}/anvandare/<user_id:int>/<state:str>")
    @require(ADMIN_ROLES)
    async def set_user_active(request: Request, user_id: int, state: str) -> HTTPResponse:
        if state not in ("aktivera", "inaktivera"):
            raise NotFound("Okänd åtgärd.")
        if user_id == request.ctx.user.id:
            return users_page(request, error="Du kan inte inaktivera dig själv.", status=409)
        if services.users.set_active(user_id, state == "aktivera") is None:
            raise NotFound("Kontot finns inte.")
        return redirect(f"{PREFIX}/anvandare", status=303)

    @app.get(f"{PREFIX}/export/arenden.csv")
    @require(CASE_ROLES)
    async def export_cases(request: Request) -> HTTPResponse:
        knowledge = get_knowledge()
        query = parse_case_query(request.args, knowledge)
        now = services.now()
        records = services.cases.stream(query, scope_for(request.ctx.user), now)
        rows = (_case_row(case, now) for case in records)
        return await _send_csv(request, "arenden.csv", CASE_CSV_HEADER, rows)

    @app.get(f"{PREFIX}/export/statistik.csv")
    @require(ALL_ROLES)
    async def export_figures(request: Request) -> HTTPResponse:
        query = parse_figure_query(request.args)
        rows = services.figures.grouped(
            query,
            _figure_scope(request.ctx.user),
            services.now(),
            (*GROUPINGS[query.grouping], "period"),
        )
        return await _send_csv(request, "statistik.csv", FIGURE_CSV_HEADER, map(_figure_row, rows))

    return OfficialsPages(render=render, require=require)


CASE_CSV_HEADER = (
    "ärendenummer", "registrerat", "enhet", "ämne", "tillstånd", "status", "företag",
    "organisationsnummer", "första svar senast", "första svar", "svarskanal",
    "tid till första svar (arbetstimmar)", "första svar försenat", "avslutas senast",
    "avslutat", "tid till avslut (arbetstimmar)", "avslut försenat",
)  # fmt: skip
FIGURE_CSV_HEADER = (
    "period", "enhet", "ämne", "ärenden", "besvarade", "inom servicelöftet",
    "andel inom servicelöftet", "median till första svar (arbetstimmar)",
    "90:e percentil till första svar (arbetstimmar)", "öppna", "försenade",
)  # fmt: skip


def _int_params(request: Request) -> list[int]:
    return [value for value in request.match_info.values() if isinstance(value, int)]


def _yes_no(value: bool) -> str:
    return "ja" if value else "nej"


def _case_row(case: CaseRecord, now: dt.datetime) -> list[object]:
    return [
        case.reference,
        local_time(case.created_at),
        case.unit,
        case.topic,
        case.permit_type,
        case.status,
        case.company_name,
        case.org_number,
        local_time(case.first_response_due_at),
        local_time(case.first_response_at) if case.first_response_at else "",
        case.first_response_channel,
        hours_decimal(case.first_response_seconds),
        _yes_no(case.first_response_breached(now)),
        local_time(case.resolution_due_at),
        local_time(case.closed_at) if case.closed_at else "",
        hours_decimal(case.resolution_seconds),
        _yes_no(case.resolution_breached(now)),
    ]


def _share(row: FigureRow) -> str:
    share = row.share_within_promise
    return "–" if share is None else f"{round(100 * share)} %"


def _figure_row(row: FigureRow) -> list[object]:
    return [
        row.period,
        row.unit,
        row.topic,
        row.cases,
        row.answered,
        row.within_promise,
        _share(row),
        hours_decimal(row.median_seconds),
        hours_decimal(row.p90_seconds),
        row.open,
        row.overdue,
    ]


def _visible_units(user: UserRecord, knowledge: Knowledge) -> dict[str, str]:
    scope = scope_for(user)
    return {
        unit_id: unit.name
        for unit_id, unit in knowledge.units.items()
        if scope.units is None or unit_id in scope.units
    }


def _figure_scope(user: UserRecord) -> CaseScope:
    # Figures hold no personal data: trainers see them all, officials their own unit.
    return CaseScope(None) if user.role == "trainer" else scope_for(user)


async def _send_csv(
    request: Request, filename: str, header: tuple[str, ...], rows: Iterable[list[object]]
) -> HTTPResponse:
    body = "\ufeff" + "".join(csv_lines(header, rows))  # BOM: Excel then reads UTF-8
    return HTTPResponse(
        body,
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
