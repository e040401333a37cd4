"""The integration tests' fixtures live in ``tests/conftest.py`` (shared with ``tests/web``)."""

from tests.conftest import Services

__all__ = ["Services"]
