"""Build the Swedish spaCy pipeline locally: ``spacy.blank("sv")`` plus lookup lemmas.

No model is downloaded: the lemma table comes from the ``spacy-lookups-data`` package.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

logger = logging.getLogger(__name__)

PIPELINE_NAME = "spacy-sv"
_STAMP = "lotsen-build.json"
_BUILD_VERSION = 1


def pipeline_dir(models_dir: Path) -> Path:
    """Where the pipeline is saved.

    Args:
        models_dir: The project's ``models/`` directory.

    Returns:
        The pipeline directory that Rasa's ``SpacyNLP`` loads.
    """
    return models_dir / PIPELINE_NAME


def build_pipeline(destination: Path, force: bool = False) -> bool:
    """Build and save the Swedish pipeline unless an up-to-date one exists.

    Args:
        destination: Directory to save the pipeline to.
        force: Rebuild even when a pipeline of this build version exists.

    Returns:
        True when a pipeline was built, False when the existing one was kept.
    """
    stamp = destination / _STAMP
    if not force and stamp.exists():
        if json.loads(stamp.read_text()).get("version") == _BUILD_VERSION:
            return False
    import spacy  # heavy import, only when building

    nlp = spacy.blank("sv")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    nlp.initialize()
    nlp.meta["name"] = "lotsen_sv"
    nlp.meta["description"] = "spacy.blank('sv') + lookup lemmatizer (spacy-lookups-data)"
    nlp.to_disk(destination)
    stamp.write_text(json.dumps({"version": _BUILD_VERSION, "spacy": spacy.about.__version__}))
    logger.info("Built Swedish spaCy pipeline at %s", destination)
    return True
