"""The NLU gate: the trained model must understand held-out Swedish enquiries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rasa.shared.nlu.training_data.loading import load_data

from bot.nlu_eval import evaluate_model

REPO = Path(__file__).resolve().parents[2]
HELDOUT = REPO / "tests" / "nlu" / "heldout.yml"
MIN_INTENT_ACCURACY = 0.90
MIN_PERMIT_TYPE_ACCURACY = 0.85


def _normalise(text: str) -> str:
    return " ".join(text.casefold().split())


def test_heldout_file_is_large_and_never_trained_on() -> None:
    heldout = load_data(str(HELDOUT))
    train = load_data(str(REPO / "data" / "nlu"))
    heldout_texts = {_normalise(str(e.get("text"))) for e in heldout.intent_examples}
    train_texts = {_normalise(str(e.get("text"))) for e in train.intent_examples}
    assert len(heldout.intent_examples) >= 150
    assert heldout_texts.isdisjoint(train_texts)
    assert set(heldout.intents) <= set(train.intents)


@pytest.mark.model
async def test_heldout_accuracy_meets_the_gate(trained_model: Path) -> None:
    report = await evaluate_model(trained_model, HELDOUT)
    summary = report.summary()
    print("\nNLU held-out:", json.dumps(summary, ensure_ascii=False))
    assert report.intent_accuracy >= MIN_INTENT_ACCURACY, summary
    assert report.permit_type_accuracy >= MIN_PERMIT_TYPE_ACCURACY, summary
