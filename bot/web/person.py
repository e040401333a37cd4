"""Admins' pages for one person's data: find, export (JSON download) and erase, with an audit.

``/handlaggare/personuppgifter``: a form for the person's e-mail address and/or phone number and
the audit of earlier exports and erasures. The e-mail and phone travel only in POST bodies,
never in URLs (no access logs, no browser history). Erasure needs a second, confirmed POST.
Only admins; the work is done by :class:`bot.person_data.PersonDataService`.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from typing import Any

from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.person_data import (
    PersonDataError,
    PersonDataService,
    PersonMatch,
    Subject,
    export_json,
)
from bot.validation import clean_text
from bot.web.officials import ADMIN_ROLES, PREFIX, OfficialsPages

PERSON_PATH = f"{PREFIX}/personuppgifter"
CONFIRM_VALUE = "ja"


def register_person(app: Sanic, pages: OfficialsPages, service: PersonDataService) -> None:
    """Add the person-data pages to the officials' app.

    Args:
        app: The web app.
        pages: Renderer and role guard from :func:`bot.web.officials.register_officials`.
        service: Finds, exports and erases a person's data.
    """

    def page(
        request: Request,
        status: int = 200,
        error: str | None = None,
        match: PersonMatch | None = None,
        **context: Any,
    ) -> HTTPResponse:
        return pages.render(
            request,
            "person.html",
            status=status,
            error=error,
            match=match,
            email=_field(request, "email"),
            phone=_field(request, "telefon"),
            audit=service.audit_log(),
            earlier=service.audit_log(subject=match.subject) if match else [],
            kind_sv=KIND_SV,
            **context,
        )

    def with_subject(
        handler: Callable[[Request, Subject], Coroutine[Any, Any, HTTPResponse]],
    ) -> Callable[[Request], Coroutine[Any, Any, HTTPResponse]]:
        """Read the person from the form; a bad e-mail or phone gets a Swedish 400 page."""

        @functools.wraps(handler)
        async def wrapper(request: Request) -> HTTPResponse:
            try:
                subject = Subject.parse(_field(request, "email"), _field(request, "telefon"))
            except PersonDataError as error:
                return page(request, status=400, error=str(error))
            return await handler(request, subject)

        return wrapper

    @app.get(PERSON_PATH)
    @pages.require(ADMIN_ROLES)
    async def person_form(request: Request) -> HTTPResponse:
        return page(request)

    @app.post(PERSON_PATH)
    @pages.require(ADMIN_ROLES)
    @with_subject
    async def person_find(request: Request, subject: Subject) -> HTTPResponse:
        match = await asyncio.to_thread(service.find, subject)
        return page(request, match=match)

    @app.post(f"{PERSON_PATH}/export")
    @pages.require(ADMIN_ROLES)
    @with_subject
    async def person_export(request: Request, subject: Subject) -> HTTPResponse:
        document = await asyncio.to_thread(service.export, subject, request.ctx.user.email)
        stamp = document["generated_at"][:10]
        return HTTPResponse(
            export_json(document),
            content_type="application/json; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="personuppgifter-{stamp}.json"'},
        )

    @app.post(f"{PERSON_PATH}/radera")
    @pages.require(ADMIN_ROLES)
    @with_subject
    async def person_erase(request: Request, subject: Subject) -> HTTPResponse:
        if _field(request, "bekrafta") != CONFIRM_VALUE:
            match = await asyncio.to_thread(service.find, subject)
            return pages.render(
                request,
                "person_confirm.html",
                match=match,
                email=_field(request, "email"),
                phone=_field(request, "telefon"),
                unconfirmed=_field(request, "steg") == "bekrafta",
            )
        result = await asyncio.to_thread(service.erase, subject, request.ctx.user.email)
        return page(request, erased=result)


KIND_SV = {"export": "Export", "erase": "Radering"}


def _field(request: Request, name: str) -> str:
    value = request.form.get(name) if request.method == "POST" and request.form else None
    return clean_text(value) if isinstance(value, str) else ""
