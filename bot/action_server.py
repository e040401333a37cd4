"""The action server of the production profile: rasa-sdk's app plus a real ``/health``.

``python -m bot.action_server --port 5055`` serves the actions in ``actions/`` like
``rasa run actions``, logs JSON lines, and answers ``GET /health`` with the state of the case
log database (503 when it cannot be reached), so a load balancer or Kubernetes can tell.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os

from rasa_sdk.endpoint import create_app
from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, json
from sqlalchemy import text

from bot.db import get_engine
from bot.logs import configure_json_logging
from bot.settings import get_settings

logger = logging.getLogger(__name__)


def _ping_case_log() -> None:
    with get_engine(get_settings().database_url).connect() as connection:
        connection.execute(text("SELECT 1"))


async def case_log_health() -> tuple[bool, dict[str, str]]:
    """Check the case log database.

    Returns:
        Whether it answers, and the check's result.
    """
    try:
        await asyncio.to_thread(_ping_case_log)
    except Exception as error:
        return False, {"database": f"error: {type(error).__name__}"}
    return True, {"database": "ok"}


def build_app(actions: str = "actions") -> Sanic:
    """Create rasa-sdk's app with ``/health`` checking the case log.

    Args:
        actions: Package with the custom actions.

    Returns:
        The Sanic app.
    """
    app: Sanic = create_app(actions)

    @app.on_request
    async def health(request: Request) -> HTTPResponse | None:
        # rasa-sdk's own /health only says the process runs; this answers first.
        if request.path != "/health":
            return None
        healthy, checks = await case_log_health()
        return json({"status": "ok" if healthy else "error", **checks}, 200 if healthy else 503)

    return app


def main(argv: list[str] | None = None) -> int:
    """Run the action server.

    Args:
        argv: Command-line arguments.

    Returns:
        Exit code.
    """
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=5055)
    parser.add_argument("--host", default=os.environ.get("SANIC_HOST", "127.0.0.1"))
    parser.add_argument("--actions", default="actions")
    args = parser.parse_args(argv)
    configure_json_logging()
    app = build_app(args.actions)
    logger.info("Action server on %s:%d", args.host, args.port)
    backlog = int(os.environ.get("SANIC_BACKLOG", "1024"))
    app.run(args.host, args.port, access_log=False, workers=1, backlog=backlog)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
