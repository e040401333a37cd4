"""Score a trained Rasa model on a held-out NLU file: intents, ``permit_type`` values, entities."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from bot.permit_matcher import canonical as canonical_permit_type


@dataclasses.dataclass(frozen=True)
class GoldExample:
    """A message with its right intent and ``permit_type`` (held-out file or annotated inbox)."""

    text: str
    intent: str
    permit_type: str | None = None


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

    def to_json(self) -> str:
        """The predictions as JSON, for storing a report (see :meth:`from_json`)."""
        return json.dumps([dataclasses.astuple(p) for p in self.predictions], ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> NluReport:
        """Rebuild a report stored with :meth:`to_json`.

        Args:
            text: The stored JSON.

        Returns:
            The report.
        """
        rows = json.loads(text)
        return cls(
            tuple(
                Prediction(str(t), str(i), str(pi), float(c), pt, tuple(pts))
                for t, i, pi, c, pt, pts in rows
            )
        )


@dataclasses.dataclass(frozen=True)
class ChangedPrediction:
    """An example two models predict differently."""

    text: str
    intent: str
    old: str
    new: str

    @property
    def fixed(self) -> bool:
        """Whether the new model is right where the old one was wrong."""
        return self.new == self.intent != self.old

    @property
    def broken(self) -> bool:
        """Whether the new model is wrong where the old one was right."""
        return self.old == self.intent != self.new


@dataclasses.dataclass(frozen=True)
class NluComparison:
    """Two models' reports on the examples both were scored on, side by side."""

    old: NluReport
    new: NluReport

    @property
    def accuracy_change(self) -> float:
        """New minus old intent accuracy."""
        return self.new.intent_accuracy - self.old.intent_accuracy

    @property
    def macro_f1_change(self) -> float:
        """New minus old macro-F1."""
        return self.new.macro_f1 - self.old.macro_f1

    def intent_f1(self) -> list[tuple[str, float, float]]:
        """(intent, old F1, new F1) for every gold intent."""
        old, new = self.old.intent_f1(), self.new.intent_f1()
        return [(intent, old.get(intent, 0.0), new.get(intent, 0.0)) for intent in sorted(new)]

    def confusion_changes(self) -> list[tuple[str, str, int, int]]:
        """(gold, predicted, old count, new count) of every confusion pair whose count changed.

        Fewer confusions first (got better), then the pairs that got worse.
        """
        old = {(g, p): n for g, p, n in self.old.confusions(top=10_000)}
        new = {(g, p): n for g, p, n in self.new.confusions(top=10_000)}
        rows = [
            (g, p, old.get((g, p), 0), new.get((g, p), 0))
            for g, p in sorted(old.keys() | new.keys())
            if old.get((g, p), 0) != new.get((g, p), 0)
        ]
        return sorted(rows, key=lambda row: (row[3] - row[2], row[0], row[1]))

    def changed_predictions(self) -> list[ChangedPrediction]:
        """Examples whose predicted intent changed: fixed ones first, then broken ones."""
        changed = [
            ChangedPrediction(o.text, o.intent, o.predicted_intent, n.predicted_intent)
            for o, n in zip(self.old.predictions, self.new.predictions, strict=True)
            if o.predicted_intent != n.predicted_intent
        ]
        return sorted(changed, key=lambda c: (not c.fixed, c.broken, c.intent, c.text))


def compare_reports(old: NluReport, new: NluReport) -> NluComparison:
    """Compare two models on the examples both reports contain (same text and gold intent).

    Args:
        old: The report of the model in use.
        new: The report of the candidate.

    Returns:
        The comparison, on the common examples in the new report's order.
    """
    old_by_key = {(p.text, p.intent): p for p in old.predictions}
    common = [p for p in new.predictions if (p.text, p.intent) in old_by_key]
    return NluComparison(
        NluReport(tuple(old_by_key[(p.text, p.intent)] for p in common)), NluReport(tuple(common))
    )


def load_examples(test_file: Path) -> tuple[GoldExample, ...]:
    """Read the examples of a Rasa NLU YAML file, with canonical ``permit_type`` values.

    Args:
        test_file: A Rasa NLU file (for example the held-out file).

    Returns:
        The examples, in file order.
    """
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(test_file))
    return tuple(
        GoldExample(
            text=str(example.get("text")),
            intent=str(example.get("intent")),
            permit_type=next(
                (
                    canonical_permit_type(str(e.get("value")))
                    for e in example.get("entities") or []
                    if e.get("entity") == "permit_type"
                ),
                None,
            ),
        )
        for example in data.intent_examples
    )


async def evaluate_examples(
    model_path: Path, datasets: Mapping[str, Sequence[GoldExample]]
) -> dict[str, NluReport]:
    """Load a model once and score it on several sets of examples.

    Args:
        model_path: A trained model archive, or a directory (the newest model in it is used).
        datasets: Examples per data-set name.

    Returns:
        A report per data-set name.
    """
    agent = _load_agent(model_path)
    reports = {}
    for name, examples in datasets.items():
        reports[name] = NluReport(tuple([await _predict(agent, example) for example in examples]))
    return reports


def _load_agent(model_path: Path) -> Any:
    from rasa.core.agent import Agent
    from rasa.model import get_local_model
    from rasa.utils.log_utils import configure_structlog

    # Rasa's structured debug log would print every message text; keep it to warnings.
    configure_structlog(logging.WARNING)
    return Agent.load(get_local_model(str(model_path)))


async def _predict(agent: Any, example: GoldExample) -> Prediction:
    result = await agent.parse_message(example.text)
    intent = result.get("intent") or {}
    return Prediction(
        text=example.text,
        intent=example.intent,
        predicted_intent=str(intent.get("name")),
        confidence=float(intent.get("confidence") or 0.0),
        permit_type=example.permit_type,
        predicted_permit_types=_permit_types(result.get("entities", [])),
    )


def _permit_types(entities: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    return tuple(
        value
        for e in entities
        if e.get("entity") == "permit_type"
        and (value := canonical_permit_type(str(e.get("value")))) is not None
    )


async def evaluate_model(model_path: Path, test_file: Path) -> NluReport:
    """Parse every example of a held-out file with a model and collect the predictions.

    Args:
        model_path: A trained model archive, or a directory (the newest model in it is used).
        test_file: A Rasa NLU YAML file the model never trained on.

    Returns:
        The report.
    """
    reports = await evaluate_examples(model_path, {"test": load_examples(test_file)})
    return reports["test"]


@dataclasses.dataclass(frozen=True)
class EntityScore:
    """Precision, recall and F1 of one entity type over a held-out file."""

    entity: str
    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def precision(self) -> float:
        """Share of the predicted values that are right."""
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 0.0

    @property
    def recall(self) -> float:
        """Share of the annotated values that were found."""
        annotated = self.true_positives + self.false_negatives
        return self.true_positives / annotated if annotated else 0.0

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        total = 2 * self.true_positives + self.false_positives + self.false_negatives
        return 2 * self.true_positives / total if total else 0.0


def _entity_values(
    entities: Iterable[Mapping[str, Any]], names: Sequence[str]
) -> set[tuple[str, str]]:
    """(entity, value) pairs as the dialogue sees them: synonyms applied, permit types canonical."""
    values = set()
    for entity in entities:
        name = str(entity.get("entity"))
        if name not in names:
            continue
        value = " ".join(str(entity.get("value")).casefold().split())
        if name == "permit_type":
            value = canonical_permit_type(value) or value
        values.add((name, value))
    return values


async def evaluate_entities(
    model_path: Path, test_file: Path, names: Sequence[str]
) -> dict[str, EntityScore]:
    """Score the entities the whole pipeline returns (every extractor, synonyms applied).

    Rasa's own ``rasa test nlu`` scores each extractor alone; the dialogue sees their merged
    output, which is what this scores: a value counts as found when the same entity type and
    value (case and spacing ignored, permit types canonical) is in the gold annotation.

    Args:
        model_path: A trained model archive, or a directory (the newest model in it is used).
        test_file: A Rasa NLU YAML file the model never trained on.
        names: The entity types to score.

    Returns:
        A score per entity type.
    """
    from rasa.shared.nlu.training_data.loading import load_data

    agent = _load_agent(model_path)
    counts: Counter[tuple[str, str]] = Counter()
    for example in load_data(str(test_file)).intent_examples:
        gold = _entity_values(example.get("entities") or [], names)
        parsed = await agent.parse_message(str(example.get("text")))
        predicted = _entity_values(parsed.get("entities", []), names)
        for name, _ in gold & predicted:
            counts[name, "tp"] += 1
        for name, _ in predicted - gold:
            counts[name, "fp"] += 1
        for name, _ in gold - predicted:
            counts[name, "fn"] += 1
    return {
        name: EntityScore(name, counts[name, "tp"], counts[name, "fp"], counts[name, "fn"])
        for name in names
    }
