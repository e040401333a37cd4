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
        project_dir: The Rasa project (``data/``, ``domain.yml``, ``config.yml``); tests use a
            temporary copy.
        heldout_file: The held-out NLU test file, never trained on.
        inbox_confidence: User messages the model understood with less confidence land in the
            NLU inbox.
        rasa_urls: Rasa servers whose model the model registry switches (``PUT /model``).
        max_accuracy_drop: Largest drop of held-out intent accuracy an activation may bring
            without an admin's written override.
    """

    database_url: str
    tracker_store_url: str
    var_dir: Path
    models_dir: Path
    project_dir: Path = REPO_ROOT
    heldout_file: Path = REPO_ROOT / "tests" / "nlu" / "heldout.yml"
    inbox_confidence: float = 0.6
    rasa_urls: tuple[str, ...] = ("http://127.0.0.1:5005",)
    max_accuracy_drop: float = 0.02

    @property
    def data_dir(self) -> Path:
        """Path: The training data (``data/`` of the project)."""
        return self.project_dir / "data"

    @property
    def domain_file(self) -> Path:
        """Path: The project's ``domain.yml``."""
        return self.project_dir / "domain.yml"

    @property
    def config_file(self) -> Path:
        """Path: The project's ``config.yml`` (pipeline and policies)."""
        return self.project_dir / "config.yml"


def get_settings() -> Settings:
    """Build the settings from environment variables with embedded defaults.

    Returns:
        The settings; SQLite files under ``var/`` unless ``DATABASE_URL`` is set.
    """
    var_dir = Path(os.environ.get("LOTSEN_VAR_DIR", REPO_ROOT / "var"))
    models_dir = Path(os.environ.get("LOTSEN_MODELS_DIR", REPO_ROOT / "models"))
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{var_dir / 'cases.db'}"
    tracker_store_url = os.environ.get("TRACKER_STORE_URL") or f"sqlite:///{var_dir / 'tracker.db'}"
    project_dir = Path(os.environ.get("LOTSEN_PROJECT_DIR", REPO_ROOT))
    heldout_file = os.environ.get("LOTSEN_HELDOUT_FILE")
    return Settings(
        database_url=database_url,
        tracker_store_url=tracker_store_url,
        var_dir=var_dir,
        models_dir=models_dir,
        project_dir=project_dir,
        heldout_file=(
            Path(heldout_file) if heldout_file else project_dir / "tests" / "nlu" / "heldout.yml"
        ),
        inbox_confidence=float(os.environ.get("LOTSEN_INBOX_CONFIDENCE") or 0.6),
        rasa_urls=tuple(
            url.strip().rstrip("/")
            for url in (os.environ.get("LOTSEN_RASA_URLS") or "http://127.0.0.1:5005").split(",")
            if url.strip()
        ),
        max_accuracy_drop=float(os.environ.get("LOTSEN_MAX_ACCURACY_DROP") or 0.02),
    )


def settings_environment(settings: Settings) -> dict[str, str]:
    """The environment variables that make :func:`get_settings` return these settings.

    For a child process (the training worker) that must work on the same database and files.

    Args:
        settings: The settings to hand on.

    Returns:
        Variable names and values (the database URLs may hold passwords: never log them).
    """
    return {
        "DATABASE_URL": settings.database_url,
        "TRACKER_STORE_URL": settings.tracker_store_url,
        "LOTSEN_VAR_DIR": str(settings.var_dir),
        "LOTSEN_MODELS_DIR": str(settings.models_dir),
        "LOTSEN_PROJECT_DIR": str(settings.project_dir),
        "LOTSEN_HELDOUT_FILE": str(settings.heldout_file),
        "LOTSEN_INBOX_CONFIDENCE": str(settings.inbox_confidence),
        "LOTSEN_RASA_URLS": ",".join(settings.rasa_urls),
        "LOTSEN_MAX_ACCURACY_DROP": str(settings.max_accuracy_drop),
    }
