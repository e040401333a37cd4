"""Process-wide services for the action server, created on first use (never at import)."""

from __future__ import annotations

import functools

from bot.cases import CaseRepository
from bot.db import get_engine
from bot.settings import get_settings


@functools.lru_cache(maxsize=1)
def case_repository() -> CaseRepository:
    """Return the case repository on the configured database.

    Returns:
        A repository sharing the process's engine (connection pool).
    """
    return CaseRepository(get_engine(get_settings().database_url))
