"""Custom Rasa NLU components. Referenced from ``config.yml`` by their module path."""

from __future__ import annotations

import json
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.permit_matcher import PermitKeywords, canonical

ENTITY = "permit_type"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=True)
class PermitTypeMatcher(GraphComponent):
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
        self._config = {**self.get_default_config(), **config}
        self._storage = model_storage
        self._resource = resource
        self._keywords = keywords or PermitKeywords({})

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> PermitTypeMatcher:
        """Create an untrained component."""
        return cls(config, model_storage, resource)

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
