"""Entity scoring of bot.nlu_eval: what counts as the same value, and the arithmetic."""

from __future__ import annotations

from bot.nlu_eval import EntityScore, _entity_values

NAMES = ("area", "plot_size", "permit_type")


def test_values_ignore_case_and_spacing_and_keep_only_the_named_types() -> None:
    entities = [
        {"entity": "area", "value": "Södra  Hamnen"},
        {"entity": "permit_type", "value": "bygglov"},
        {"entity": "permit_type", "value": " BYGGLOV "},
        {"entity": "email", "value": "a@b.se"},
    ]
    values = _entity_values(entities, NAMES)
    assert ("area", "södra hamnen") in values
    assert {v for n, v in values if n == "permit_type"} == {"bygglov"}
    assert all(name in NAMES for name, _ in values)


def test_score_arithmetic_and_empty_cases() -> None:
    score = EntityScore("plot_size", true_positives=7, false_positives=1, false_negatives=2)
    assert score.precision == 7 / 8
    assert score.recall == 7 / 9
    assert score.f1 == 14 / 17
    empty = EntityScore("area", 0, 0, 0)
    assert (empty.precision, empty.recall, empty.f1) == (0.0, 0.0, 0.0)
