"""The n-gram intent classifier (bot.nlu_components.NgramIntentClassifier) as Rasa runs it.

Trained on a small Swedish data set through the GraphComponent API with Rasa's real model
storage, persisted, loaded again and asked about unseen messages.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu_components import NgramIntentClassifier

EXAMPLES = {
    "ask_permit": [
        "behöver jag bygglov för en altan",
        "vilket tillstånd krävs för att öppna en restaurang",
        "måste jag söka serveringstillstånd",
        "hur ansöker jag om bygglov",
        "krävs det tillstånd för uteservering",
        "behöver jag ett tillstånd för att sälja alkohol",
    ],
    "ask_industrial_land": [
        "finns det ledig industrimark",
        "jag söker mark för en verkstad",
        "har kommunen tomter för industri",
        "var kan jag köpa industritomt",
        "finns det lediga tomter i hamnområdet",
        "vi behöver tre hektar mark",
    ],
    "greet": ["hej", "hej hej", "god morgon", "hallå där", "tjena", "goddag"],
}


@pytest.fixture
def storage(tmp_path: Path) -> LocalModelStorage:
    return LocalModelStorage(tmp_path)


def _context() -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), "test-model")


def _training_data() -> TrainingData:
    return TrainingData(
        [
            Message.build(text=text, intent=intent)
            for intent, texts in EXAMPLES.items()
            for text in texts
        ]
    )


def _trained(storage: LocalModelStorage, **config: object) -> NgramIntentClassifier:
    resource = Resource("ngram")
    component = NgramIntentClassifier.create(
        {**NgramIntentClassifier.get_default_config(), **config}, storage, resource, _context()
    )
    component.train(_training_data())
    return NgramIntentClassifier.load(
        {**NgramIntentClassifier.get_default_config(), **config}, storage, resource, _context()
    )


def test_loaded_model_classifies_unseen_messages_with_a_ranking(
    storage: LocalModelStorage,
) -> None:
    classifier = _trained(storage)
    messages = [
        Message.build(text="behöver jag bygglov för ett garage"),
        Message.build(text="finns det industrimark att köpa"),
        Message.build(text="hej!"),
    ]
    classifier.process(messages)
    assert [m.get("intent")["name"] for m in messages] == [
        "ask_permit",
        "ask_industrial_land",
        "greet",
    ]
    for message in messages:
        ranking = message.get("intent_ranking")
        assert ranking[0]["name"] == message.get("intent")["name"]
        assert len(ranking) == 3
        assert sum(r["confidence"] for r in ranking) == pytest.approx(1.0)
        confidences = [r["confidence"] for r in ranking]
        assert confidences == sorted(confidences, reverse=True)


def test_blend_combines_the_earlier_classifiers_ranking(storage: LocalModelStorage) -> None:
    alone = _trained(storage)
    blended = _trained(storage, blend=0.5)
    earlier = [
        {"name": "greet", "confidence": 0.9},
        {"name": "ask_permit", "confidence": 0.1},
    ]
    first = Message.build(text="behöver jag bygglov för ett garage")
    second = Message.build(text="behöver jag bygglov för ett garage")
    first.set("intent_ranking", earlier)
    second.set("intent_ranking", earlier)
    alone.process([first])
    blended.process([second])
    own = {r["name"]: r["confidence"] for r in first.get("intent_ranking")}
    mixed = {r["name"]: r["confidence"] for r in second.get("intent_ranking")}
    # Alone it ignores the earlier ranking; blended it is the average of both.
    assert first.get("intent")["name"] == "ask_permit"
    assert mixed["greet"] == pytest.approx(0.5 * own["greet"] + 0.45)
    assert mixed["ask_permit"] == pytest.approx(0.5 * own["ask_permit"] + 0.05)
    assert second.get("intent")["name"] == max(mixed, key=lambda name: mixed[name])


def test_untrained_component_leaves_messages_alone(storage: LocalModelStorage) -> None:
    resource = Resource("empty")
    component = NgramIntentClassifier.create({}, storage, resource, _context())
    component.train(TrainingData([Message.build(text="hej", intent="greet")]))
    loaded = NgramIntentClassifier.load({}, storage, resource, _context())
    message = Message.build(text="hej")
    loaded.process([message])
    assert message.get("intent") is None


def test_an_intent_with_fewer_examples_than_calibration_folds_still_trains(
    storage: LocalModelStorage,
) -> None:
    resource = Resource("rare")
    config = {**NgramIntentClassifier.get_default_config(), "calibration_folds": 5}
    component = NgramIntentClassifier.create(config, storage, resource, _context())
    data = [*_training_data().training_examples, Message.build(text="avbryt", intent="cancel")]
    component.train(TrainingData(data))
    loaded = NgramIntentClassifier.load(config, storage, resource, _context())
    message = Message.build(text="behöver jag bygglov för ett plank")
    loaded.process([message])
    assert message.get("intent")["name"] == "ask_permit"
    assert {r["name"] for r in message.get("intent_ranking")} == {*EXAMPLES, "cancel"}


def test_direct_prediction_equals_the_pipelines_own() -> None:
    import numpy

    from bot.nlu_components import ngram_pipeline, predict_proba

    texts, labels = zip(*[(t, i) for i, ts in EXAMPLES.items() for t in ts], strict=True)
    model = ngram_pipeline({**NgramIntentClassifier.get_default_config(), "calibration_folds": 3})
    model.fit(list(texts), numpy.array(labels))
    unseen = ["behöver jag bygglov för ett garage", "industrimark?", "hej!", "", "ÅÄÖ 123"]
    numpy.testing.assert_array_equal(predict_proba(model, unseen), model.predict_proba(unseen))
