"""Runtime settings, read from the environment when asked for (never at import)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    """Settings shared by the action server, the web app and the CLI.

    Attributes:
        database_url: SQLAlchemy URL of the case log.
        tracker_store_url: SQLAlchemy URL of Rasa's tracker store (read by the web app).
        var_dir: Directory for SQLite files and other local state.
        models_dir: Directory for trained models and the Swedish spaCy pipeline.
    """

    database_url: str
    tracker_store_url: str
    var_dir: Path
    models_dir: Path


def get_settings() -> Settings:
    """Build the settings from environment variables with embedded defaults.

    Returns:
        The settings; SQLite files under ``var/`` unless ``DATABASE_URL`` is set.
    """
    var_dir = Path(os.environ.get("LOTSEN_VAR_DIR", REPO_ROOT / "var"))
    models_dir = Path(os.environ.get("LOTSEN_MODELS_DIR", REPO_ROOT / "models"))
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{var_dir / 'cases.db'}"
    tracker_store_url = os.environ.get("TRACKER_STORE_URL") or f"sqlite:///{var_dir / 'tracker.db'}"
    return Settings(
        database_url=database_url,
        tracker_store_url=tracker_store_url,
        var_dir=var_dir,
        models_dir=models_dir,
    )
