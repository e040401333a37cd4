"""Custom Rasa NLU components. Referenced from ``config.yml`` by their module path."""

from __future__ import annotations

import json
from typing import Any, TypeVar

import numpy
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers import LABEL_RANKING_LENGTH
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import (
    ENTITIES,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.permit_matcher import PermitKeywords, canonical

ENTITY = "permit_type"
WORD_PATTERN = r"(?u)\b\w+\b"
"""Words of the n-gram classifier: single letters and digits count too ("å", "5 år")."""


_Component = TypeVar("_Component", bound="_StoredComponent")


class _StoredComponent(GraphComponent):
    """A trainable component's config, model storage and resource; ``create`` makes it."""

    def __init__(
        self, config: dict[str, Any], model_storage: ModelStorage, resource: Resource
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        self._storage = model_storage
        self._resource = resource

    @classmethod
    def create(
        cls: type[_Component],
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> _Component:
        """Create an untrained component."""
        return cls(config, model_storage, resource)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=True)
class PermitTypeMatcher(_StoredComponent):
    """Adds a ``permit_type`` entity to permit questions where the statistical model found none.

    Learns the annotated spellings at training time (see :mod:`bot.permit_matcher`).
    """

    FILE = "permit_keywords.json"

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Only messages classified as these intents get a permit type."""
        return {"intents": ["ask_permit"]}

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        keywords: PermitKeywords | None = None,
    ) -> None:
        super().__init__(config, model_storage, resource)
        self._keywords = keywords or PermitKeywords({})

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> PermitTypeMatcher:
        """Load the learned keywords from the model."""
        with model_storage.read_from(resource) as directory:
            keywords = json.loads((directory / cls.FILE).read_text(encoding="utf-8"))
        return cls(config, model_storage, resource, PermitKeywords(keywords))

    def train(self, training_data: TrainingData) -> Resource:
        """Learn every annotated spelling of ``permit_type``."""
        spellings = [
            (str(message.get(TEXT))[entity["start"] : entity["end"]], str(entity["value"]))
            for message in training_data.entity_examples
            for entity in message.get(ENTITIES) or []
            if entity.get("entity") == ENTITY
        ]
        self._keywords = PermitKeywords.learn(spellings, training_data.entity_synonyms)
        with self._storage.write_to(self._resource) as directory:
            (directory / self.FILE).write_text(
                json.dumps(dict(self._keywords.keywords), ensure_ascii=False), encoding="utf-8"
            )
        return self._resource

    def process(self, messages: list[Message]) -> list[Message]:
        """Give permit questions a canonical permit type.

        A ``permit_type`` span whose value is not a canonical permit type (DIET found
        "tatueringsstudion", which no synonym maps) is matched against the keywords; a permit
        question without any ``permit_type`` is searched as a whole.
        """
        for message in messages:
            intent = (message.get(INTENT) or {}).get("name")
            if intent not in self._config["intents"]:
                continue
            text = str(message.get(TEXT) or "")
            entities = list(message.get(ENTITIES) or [])
            spans = [e for e in entities if e.get("entity") == ENTITY]
            for entity in spans:
                if canonical(str(entity.get("value"))) is None:
                    found = self._keywords.match(text[entity["start"] : entity["end"]])
                    if found is not None:
                        entity["value"] = found.value
            if not spans:
                match = self._keywords.match(text)
                if match is not None:
                    entities.append(
                        {
                            "entity": ENTITY,
                            "value": match.value,
                            "start": match.start,
                            "end": match.end,
                            "extractor": type(self).__name__,
                        }
                    )
            message.set(ENTITIES, entities, add_to_output=True)
        return messages


def ngram_pipeline(config: dict[str, Any]) -> Any:
    """TF-IDF of character (``char_wb``) and word n-grams into a calibrated linear SVM.

    Args:
        config: ``char_ngrams`` and ``word_ngrams`` ([min, max]), ``C``, ``calibration_folds``.

    Returns:
        An unfitted scikit-learn pipeline with ``predict_proba``.
    """
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.svm import LinearSVC

    char_min, char_max = config["char_ngrams"]
    word_min, word_max = config["word_ngrams"]
    features = FeatureUnion(
        [
            (
                "char",
                TfidfVectorizer(
                    analyzer="char_wb", ngram_range=(char_min, char_max), sublinear_tf=True
                ),
            ),
            (
                "word",
                TfidfVectorizer(
                    analyzer="word",
                    ngram_range=(word_min, word_max),
                    sublinear_tf=True,
                    token_pattern=WORD_PATTERN,
                ),
            ),
        ]
    )
    svm = LinearSVC(C=config["C"], random_state=0)
    # Probabilities for the fallback threshold and the blend: one SVM on all the data,
    # sigmoid calibration fitted on cross-validated scores.
    classifier = CalibratedClassifierCV(
        svm, cv=config["calibration_folds"], method="sigmoid", ensemble=False
    )
    return Pipeline([("features", features), ("classifier", classifier)])


def predict_proba(model: Any, texts: list[str]) -> Any:
    """``model.predict_proba(texts)`` for a pipeline of :func:`ngram_pipeline`, made directly.

    The same features (each vectorizer's output side by side, as ``FeatureUnion`` stacks them)
    into the same calibrated classifier, without ``FeatureUnion``'s joblib dispatch and the
    vectorizers' fitted-checks, which cost more than the vectorizers' own work when the Rasa
    server parses one message at a time (bench/RESULTS.md, step 7).

    Args:
        model: A fitted pipeline of :func:`ngram_pipeline`.
        texts: The messages.

    Returns:
        The class probabilities, one row per text, columns in ``model.classes_`` order.
    """
    from scipy.sparse import hstack

    union = model.named_steps["features"]
    features = hstack([_tfidf(vectorizer, texts) for _, vectorizer in union.transformer_list])
    return model.named_steps["classifier"].predict_proba(features.tocsr())


def _tfidf(vectorizer: Any, texts: list[str]) -> Any:
    """``TfidfVectorizer.transform`` (scikit-learn 1.1) without its fitted-checks.

    The same steps (counts, sublinear tf, idf, l2 norm); scikit-learn's check reads the
    ``idf_`` property, which sums the whole idf matrix again on every call.
    """
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.preprocessing import normalize

    counts = CountVectorizer.transform(vectorizer, texts).astype(numpy.float64, copy=False)
    weighting = vectorizer._tfidf
    if weighting.sublinear_tf:
        numpy.log(counts.data, counts.data)
        counts.data += 1
    if weighting.use_idf:
        counts = counts * weighting._idf_diag
    if weighting.norm:
        counts = normalize(counts, norm=weighting.norm, copy=False)
    return counts


def _calibration_ready(examples: list[tuple[str, str]], folds: int) -> tuple[list[str], list[str]]:
    """Texts and labels with every intent repeated up to ``folds`` examples.

    Calibration splits the data into ``folds`` stratified parts; an intent with fewer examples
    gets its examples repeated (a rare intent then weighs a little more, nothing is invented).
    """
    by_intent: dict[str, list[str]] = {}
    for text, intent in examples:
        by_intent.setdefault(intent, []).append(text)
    texts: list[str] = []
    labels: list[str] = []
    for intent, intent_texts in by_intent.items():
        count = max(len(intent_texts), folds)
        texts.extend(intent_texts[i % len(intent_texts)] for i in range(count))
        labels.extend([intent] * count)
    return texts, labels


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class NgramIntentClassifier(_StoredComponent, IntentClassifier):
    """Intent classifier: TF-IDF character and word n-grams into a calibrated linear SVM.

    Works on the raw text (no featurizer needed). With ``blend`` above 0 it combines its
    probabilities with the ranking an earlier classifier (DIET) left on the message:
    ``(1 - blend) * own + blend * earlier``; with 0 it replaces that ranking. Measured against
    DIET alone and a plain linear SVM in bench/RESULTS.md.
    """

    FILE = "ngram_intent_classifier.skops"

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """n-gram ranges, SVM regularisation, calibration folds, blend weight, ranking length."""
        return {
            "char_ngrams": [2, 5],
            "word_ngrams": [1, 2],
            "C": 1.0,
            "calibration_folds": 3,
            "blend": 0.0,
            "ranking_length": LABEL_RANKING_LENGTH,
        }

    @staticmethod
    def required_packages() -> list[str]:
        """scikit-learn and skops (both Rasa dependencies)."""
        return ["sklearn", "skops"]

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: Any = None,
    ) -> None:
        super().__init__(config, model_storage, resource)
        self._model = model

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> NgramIntentClassifier:
        """Load the fitted pipeline; only scikit-learn, SciPy and NumPy types are accepted."""
        import skops.io as sio

        with model_storage.read_from(resource) as directory:
            path = directory / cls.FILE
            if not path.exists():  # trained on data without intents
                return cls(config, model_storage, resource)
            untrusted = sio.get_untrusted_types(file=path)
            foreign = [t for t in untrusted if not t.startswith(("sklearn.", "numpy.", "scipy."))]
            if foreign:
                raise ValueError(f"unexpected types in {cls.FILE}: {foreign}")
            model = sio.load(path, trusted=untrusted)
        return cls(config, model_storage, resource, model)

    def train(self, training_data: TrainingData) -> Resource:
        """Fit the pipeline on every intent example (nothing to fit below two intents)."""
        import skops.io as sio

        texts, labels = _calibration_ready(
            [
                (str(e.get(TEXT)), str(e.get(INTENT)))
                for e in training_data.intent_examples
                if e.get(INTENT) and e.get(TEXT)
            ],
            int(self._config["calibration_folds"]),
        )
        with self._storage.write_to(self._resource) as directory:
            if len(set(labels)) >= 2:
                self._model = ngram_pipeline(self._config)
                # An array: scikit-learn's fold check compares the labels with ``==``.
                self._model.fit(texts, numpy.array(labels))
                sio.dump(self._model, directory / self.FILE)
        return self._resource

    def process(self, messages: list[Message]) -> list[Message]:
        """Set ``intent`` and ``intent_ranking`` (blended with an earlier ranking if configured)."""
        if self._model is None or not messages:
            return messages
        probabilities = predict_proba(self._model, [str(m.get(TEXT) or "") for m in messages])
        intents = [str(c) for c in self._model.classes_]
        blend = float(self._config["blend"])
        for message, row in zip(messages, probabilities, strict=True):
            scores = {
                intent: float(p) * (1 - blend) for intent, p in zip(intents, row, strict=True)
            }
            if blend > 0:
                for entry in message.get(INTENT_RANKING_KEY) or []:
                    name = str(entry.get(INTENT_NAME_KEY))
                    confidence = float(entry.get(PREDICTED_CONFIDENCE_KEY) or 0.0)
                    scores[name] = scores.get(name, 0.0) + blend * confidence
            ranking = [
                {INTENT_NAME_KEY: name, PREDICTED_CONFIDENCE_KEY: confidence}
                for name, confidence in sorted(scores.items(), key=lambda s: -s[1])
            ]
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set(
                INTENT_RANKING_KEY, ranking[: self._config["ranking_length"]], add_to_output=True
            )
        return messages
