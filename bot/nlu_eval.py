"""Score a trained Rasa model on a held-out NLU file: intents and ``permit_type`` values."""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from pathlib import Path
from typing import Any

from bot.permit_matcher import canonical as canonical_permit_type


@dataclasses.dataclass(frozen=True)
class Prediction:
    """One held-out example and what the model made of it."""

    text: str
    intent: str
    predicted_intent: str
    confidence: float
    permit_type: str | None
    predicted_permit_types: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class NluReport:
    """Scores of a model on a held-out file."""

    predictions: tuple[Prediction, ...]

    @property
    def intent_accuracy(self) -> float:
        """Share of examples whose intent was predicted right."""
        hits = sum(p.intent == p.predicted_intent for p in self.predictions)
        return hits / len(self.predictions) if self.predictions else 0.0

    def intent_f1(self) -> dict[str, float]:
        """F1 score per gold intent."""
        scores: dict[str, float] = {}
        for intent in sorted({p.intent for p in self.predictions}):
            tp = sum(p.intent == intent == p.predicted_intent for p in self.predictions)
            fp = sum(p.predicted_intent == intent != p.intent for p in self.predictions)
            fn = sum(p.intent == intent != p.predicted_intent for p in self.predictions)
            scores[intent] = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        return scores

    @property
    def macro_f1(self) -> float:
        """Unweighted mean of the per-intent F1 scores."""
        scores = self.intent_f1()
        return sum(scores.values()) / len(scores) if scores else 0.0

    @property
    def permit_type_accuracy(self) -> float:
        """Share of examples with a gold ``permit_type`` whose value was extracted right."""
        gold = [p for p in self.predictions if p.permit_type]
        hits = sum(p.permit_type in p.predicted_permit_types for p in gold)
        return hits / len(gold) if gold else 0.0

    def confusions(self, top: int = 10) -> list[tuple[str, str, int]]:
        """Most frequent (gold, predicted) intent confusions."""
        pairs = Counter(
            (p.intent, p.predicted_intent)
            for p in self.predictions
            if p.intent != p.predicted_intent
        )
        return [(gold, predicted, n) for (gold, predicted), n in pairs.most_common(top)]

    def summary(self) -> dict[str, Any]:
        """Figures as a JSON-friendly dict."""
        return {
            "examples": len(self.predictions),
            "intent_accuracy": round(self.intent_accuracy, 4),
            "macro_f1": round(self.macro_f1, 4),
            "permit_type_examples": sum(1 for p in self.predictions if p.permit_type),
            "permit_type_accuracy": round(self.permit_type_accuracy, 4),
            "intent_f1": {k: round(v, 3) for k, v in self.intent_f1().items()},
            "confusions": self.confusions(),
        }


async def evaluate_model(model_path: Path, test_file: Path) -> NluReport:
    """Parse every example of a held-out file with a model and collect the predictions.

    Args:
        model_path: A trained model archive, or a directory (the newest model in it is used).
        test_file: A Rasa NLU YAML file the model never trained on.

    Returns:
        The report.
    """
    from rasa.core.agent import Agent
    from rasa.model import get_local_model
    from rasa.shared.nlu.training_data.loading import load_data
    from rasa.utils.log_utils import configure_structlog

    # Rasa's structured debug log would print every message text; keep it to warnings.
    configure_structlog(logging.WARNING)
    agent = Agent.load(get_local_model(str(model_path)))
    data = load_data(str(test_file))
    predictions = []
    for example in data.intent_examples:
        text = str(example.get("text"))
        result = await agent.parse_message(text)
        gold_permit = next(
            (
                canonical_permit_type(str(e.get("value")))
                for e in example.get("entities") or []
                if e.get("entity") == "permit_type"
            ),
            None,
        )
        predicted_permits = tuple(
            value
            for e in result.get("entities", [])
            if e.get("entity") == "permit_type"
            and (value := canonical_permit_type(str(e.get("value")))) is not None
        )
        predictions.append(
            Prediction(
                text=text,
                intent=str(example.get("intent")),
                predicted_intent=str((result.get("intent") or {}).get("name")),
                confidence=float((result.get("intent") or {}).get("confidence") or 0.0),
                permit_type=gold_permit,
                predicted_permit_types=predicted_permits,
            )
        )
    return NluReport(tuple(predictions))
