"""The NLU gate: the trained model must understand held-out Swedish enquiries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rasa.shared.nlu.training_data.loading import load_data

from bot.nlu_eval import evaluate_entities, evaluate_model

REPO = Path(__file__).resolve().parents[2]
HELDOUT = REPO / "tests" / "nlu" / "heldout.yml"
MIN_INTENT_ACCURACY = 0.90
MIN_PERMIT_TYPE_ACCURACY = 0.85
# F1 of what the whole pipeline returns (bot.nlu_eval.evaluate_entities). Measured with the
# landed config.yml (CRFEntityExtractor, issue 7): area 1.00, plot_size 0.82, permit_type 0.93;
# DIET, which it replaced, scored 0.94, 0.61 and 0.83.
MIN_ENTITY_F1 = {"area": 0.85, "plot_size": 0.70, "permit_type": 0.85}


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


@pytest.mark.model
async def test_heldout_entities_meet_the_gate(trained_model: Path) -> None:
    scores = await evaluate_entities(trained_model, HELDOUT, list(MIN_ENTITY_F1))
    shown = {
        name: {
            "precision": s.precision,
            "recall": s.recall,
            "f1": s.f1,
            "annotated": s.true_positives + s.false_negatives,
        }
        for name, s in scores.items()
    }
    print("\nNLU held-out entities:", json.dumps(shown))
    for name, minimum in MIN_ENTITY_F1.items():
        assert scores[name].true_positives + scores[name].false_negatives >= 5, shown
        assert scores[name].f1 >= minimum, shown
