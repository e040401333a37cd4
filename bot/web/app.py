"""The officials' web app and the demo municipal page (Sanic). Built by :func:`create_app`."""

from __future__ import annotations

import os
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, html, json
from sqlalchemy import text

from bot.accounts import UserRepository
from bot.cases import CaseRepository
from bot.dashboard import FigureRepository
from bot.db import get_engine
from bot.inbox import Inbox
from bot.knowledge import get_knowledge
from bot.person_data import PersonDataService
from bot.settings import Settings, get_settings
from bot.transcripts import TranscriptReader
from bot.web.conversation import conversation_blueprint
from bot.web.inbox import register_inbox
from bot.web.models import register_models
from bot.web.officials import OfficialsServices, register_officials
from bot.web.person import register_person
from bot.web.security import (
    SessionSigner,
    load_secret,
    register_security_headers,
    security_headers,
)

WEB_DIR = Path(__file__).resolve().parent


def create_app(
    settings: Settings | None = None, name: str = "lotsen_web", login_delay: float = 1.0
) -> Sanic:
    """Create the web app: the demo municipal page and the officials' app (``/handlaggare``).

    Args:
        settings: Settings to use; read from the environment when None.
        name: Sanic app name (unique per process).
        login_delay: Seconds to wait after a failed login (slows down password guessing).

    Returns:
        The configured app; nothing is started.
    """
    settings = settings or get_settings()
    app = Sanic(name)
    app.config.REQUEST_MAX_SIZE = 1_000_000
    templates = Environment(
        loader=FileSystemLoader(WEB_DIR / "templates"),
        autoescape=select_autoescape(["html", "xml"]),
    )
    app.static("/static", WEB_DIR / "static", name="static")
    # The widget on the demo page talks to this Rasa server (socket.io); the CSP allows it.
    rasa_url = os.environ.get("LOTSEN_PUBLIC_RASA_URL", "http://localhost:5005")
    secure_cookies = os.environ.get("LOTSEN_SECURE_COOKIES", "") == "1"
    register_security_headers(app, security_headers([rasa_url], tls=secure_cookies))
    app.blueprint(conversation_blueprint(settings.tracker_store_url))

    @app.get("/")
    async def index(request: Request) -> HTTPResponse:
        knowledge = get_knowledge()
        centre = knowledge.units[knowledge.contact_centre]
        return html(
            templates.get_template("index.html").render(
                centre=centre, demo=knowledge.demo, rasa_url=rasa_url
            )
        )

    @app.get("/integritet")
    async def privacy(request: Request) -> HTTPResponse:
        knowledge = get_knowledge()
        centre = knowledge.units[knowledge.contact_centre]
        return html(
            templates.get_template("privacy.html").render(centre=centre, demo=knowledge.demo)
        )

    @app.get("/health")
    async def health(request: Request) -> HTTPResponse:
        checks: dict[str, str] = {}
        try:
            with get_engine(settings.database_url).connect() as connection:
                connection.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as error:
            checks["database"] = f"error: {type(error).__name__}"
        healthy = all(value == "ok" for value in checks.values())
        return json(
            {"status": "ok" if healthy else "error", **checks}, status=200 if healthy else 503
        )

    # Behind nginx (X-Forwarded-For), LOTSEN_PROXIES_COUNT=1 gives login throttling the
    # client's address instead of the proxy's.
    app.config.PROXIES_COUNT = int(os.environ.get("LOTSEN_PROXIES_COUNT", "0") or 0)
    engine = get_engine(settings.database_url)
    secret = load_secret(settings.var_dir)
    pages = register_officials(
        app,
        OfficialsServices(
            cases=CaseRepository(engine),
            users=UserRepository(engine),
            figures=FigureRepository(engine),
            transcripts=TranscriptReader(settings.tracker_store_url),
            signer=SessionSigner(secret),
            templates=templates,
            login_delay=login_delay,
            secure_cookies=secure_cookies,
        ),
    )
    # Further officials' pages register here with ``pages`` (render + role guard).
    register_person(app, pages, PersonDataService(engine, settings.tracker_store_url, secret))
    register_inbox(
        app,
        pages,
        Inbox(settings, engine),
        CaseRepository(engine),
        TranscriptReader(settings.tracker_store_url),
    )
    register_models(app, pages, settings)
    del pages
    return app
