"""A temporary copy of the Rasa project for tests that write training data (never the repo's)."""

from __future__ import annotations

import shutil
from pathlib import Path

from bot.settings import REPO_ROOT


def copy_project(root: Path) -> Path:
    """Copy ``data/``, ``domain.yml``, ``config.yml`` and the held-out NLU file under a folder.

    Args:
        root: Where the copy goes (created).

    Returns:
        The folder, usable as ``Settings.project_dir``; the held-out file is at
        ``tests/nlu/heldout.yml`` under it.
    """
    shutil.copytree(REPO_ROOT / "data", root / "data")
    for name in ("domain.yml", "config.yml"):
        shutil.copy(REPO_ROOT / name, root / name)
    (root / "tests" / "nlu").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "tests" / "nlu" / "heldout.yml", root / "tests" / "nlu")
    return root
