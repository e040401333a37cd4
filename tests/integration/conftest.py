"""The integration tests' fixtures live in ``tests/conftest.py`` (shared with ``tests/web``).

The names below are re-exported for the test modules that import them from here.
"""

from tests.conftest import BASE_ENV, RASA, REPO, Services

__all__ = ["BASE_ENV", "RASA", "REPO", "Services"]
