"""Pure helpers of the benchmark scripts (bench/_common.py, bench/nlu_compare.py, bench/load.py).

Nothing here is timed: the benchmarks themselves are scripts, not tests.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from bench import _common as common
from bench import load, nlu_compare


def test_percentile_interpolates_linearly_like_numpy() -> None:
    values = [10.0, 20.0, 30.0, 40.0]
    assert common.percentile(values, 50) == pytest.approx(25.0)
    assert common.percentile(values, 0) == 10.0
    assert common.percentile(values, 100) == 40.0
    assert common.percentile(values, 95) == pytest.approx(38.5)


def test_percentile_of_one_value_is_that_value_and_of_none_is_nan() -> None:
    assert common.percentile([7.0], 99) == 7.0
    assert math.isnan(common.percentile([], 50))


def test_percentile_does_not_depend_on_order() -> None:
    assert common.percentile([3.0, 1.0, 2.0], 50) == 2.0


def test_accuracy_and_macro_f1_average_over_gold_intents() -> None:
    gold = ["a", "a", "b", "b"]
    predicted = ["a", "b", "b", "c"]
    accuracy, f1 = common.accuracy_and_macro_f1(gold, predicted)
    assert accuracy == 0.5
    # a: tp 1, fn 1 -> 2/3; b: tp 1, fp 1, fn 1 -> 1/2; c is not a gold intent.
    assert f1 == pytest.approx((2 / 3 + 1 / 2) / 2)


def test_load_massive_reads_utterance_and_intent(tmp_path: Path) -> None:
    path = tmp_path / "sv-SE.dev.jsonl"
    records = [
        {"utt": "släck lamporna tack", "intent": "iot_hue_lightoff", "annot_utt": "x"},
        {"utt": " väck mig klockan sju ", "intent": "alarm_set", "annot_utt": "y"},
    ]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n")
    assert common.load_massive(path) == [
        ("släck lamporna tack", "iot_hue_lightoff"),
        ("väck mig klockan sju", "alarm_set"),
    ]


def test_write_rasa_nlu_round_trips_through_rasa_and_drops_markup(tmp_path: Path) -> None:
    pairs = [
        ("släck lamporna tack", "iot_hue_lightoff"),
        ("släck lamporna tack", "iot_hue_lightoff"),
        ("vad är [klockan](tid)?", "datetime_query"),
        ("what's: the time - 'now'", "datetime_query"),
    ]
    path = common.write_rasa_nlu(pairs, tmp_path / "nlu.yml")
    examples = sorted(common.load_rasa_examples(path))
    assert examples == [
        ("släck lamporna tack", "iot_hue_lightoff"),
        ("vad är klockan tid ?", "datetime_query"),
        ("what's: the time - 'now'", "datetime_query"),
    ]


def test_svm_baseline_learns_a_tiny_task() -> None:
    pairs = [
        ("behöver jag bygglov", "ask_permit"),
        ("bygglov för carport", "ask_permit"),
        ("ansöka om serveringstillstånd", "ask_permit"),
        ("hej", "greet"),
        ("hej hej", "greet"),
        ("god morgon", "greet"),
    ]
    run = common.train_svm(pairs)
    assert list(run.model.predict(["bygglov altan", "hej där"])) == ["ask_permit", "greet"]
    assert run.size_bytes > 0
    assert run.seconds >= 0


def test_rasa_default_config_is_the_installed_default_for_swedish() -> None:
    config = common.rasa_default_config()
    names = [c["name"] for c in config["pipeline"]]
    assert config["language"] == "sv"
    assert names[0] == "WhitespaceTokenizer"
    assert "DIETClassifier" in names and "ResponseSelector" in names
    diet = next(c for c in config["pipeline"] if c["name"] == "DIETClassifier")
    assert diet["epochs"] == 100


def test_override_epochs_changes_diet_and_response_selector_only() -> None:
    config = common.rasa_default_config()
    quick = common.override_epochs(config, 3)
    epochs = {c["name"]: c.get("epochs") for c in quick["pipeline"]}
    assert epochs["DIETClassifier"] == 3 and epochs["ResponseSelector"] == 3
    assert epochs["WhitespaceTokenizer"] is None
    assert common.override_epochs(config, None) is config
    assert next(c for c in config["pipeline"] if c["name"] == "DIETClassifier")["epochs"] == 100


def test_peak_rss_of_this_process_is_positive_and_of_a_missing_process_nan() -> None:
    assert common.peak_rss_mib(os.getpid()) > 1
    assert math.isnan(common.peak_rss_mib(2**22 + 12345))


def test_nlu_table_gives_time_ratio_to_the_svm_of_the_same_task() -> None:
    rows = [
        nlu_compare.Row("business", "project", 0.95, 0.9, 100.0, 20_000_000, 25.0, "60"),
        nlu_compare.Row("business", "svm", 0.97, 0.93, 0.5, 1_500, 0.1, "-"),
    ]
    text = nlu_compare.table(rows)
    assert "| business | project | 60 | 0.950 | 0.900 | 100.0 | 200x | 20.0 MB | 25.0 |" in text
    assert "| business | svm | - | 0.970 | 0.930 | 0.5 | 1x | 2 kB | 0.1 |" in text


def test_load_summary_computes_rate_percentiles_and_ratio_to_stock() -> None:
    stats = load.LevelStats(latencies=[0.1, 0.2, 0.3, 0.4], started=0.0, finished=2.0)
    stats.error("HTTP 500")
    servers = load.Servers("stock", "http://127.0.0.1:1", {}, None)
    stock = load.summarize("stock", 20, stats, servers)
    assert (stock.messages, stock.errors, stock.p50_ms) == (4, 1, pytest.approx(250.0))
    project = load.Row("project", 20, 12, 2.0, 20.0, 30.0, 40.0, 0, 2, 1, {"rasa": 500.0})
    production = load.Row(
        "production",
        20,
        16,
        2.0,
        10.0,
        20.0,
        30.0,
        0,
        2,
        2,
        {"rasa-1": 600.0, "rasa-2": 650.0, "actions-1": 90.0, "actions-2": 80.0},
    )
    text = load.table([stock, project, production])
    assert "| project | 20 | 12 | 6.0 | 3.00 | 20 | 30 | 40 | 0 | 1 | 500 | 0 |" in text
    assert "| production | 20 | 16 | 8.0 | 4.00 | 10 | 20 | 30 | 0 | 2 | 650 x2 | 90 x2 |" in text


def test_load_endpoints_keep_the_project_tracker_store_class_on_a_temporary_file(
    tmp_path: Path,
) -> None:
    db = tmp_path / "tracker.db"
    project = load.endpoints_for("project", 5055, db)
    stock = load.endpoints_for("stock", 5056, db)
    assert project["tracker_store"]["db"] == stock["tracker_store"]["db"] == str(db)
    assert project["tracker_store"]["type"] != "in_memory"
    assert stock["tracker_store"]["type"] == "SQL"
    assert stock["action_endpoint"]["url"] == "http://127.0.0.1:5056/webhook"


def test_cpu_split_divides_each_kinds_cpu_by_the_messages() -> None:
    from bench import cpu_split

    before = {("rasa", 10): 1.0, ("rasa", 11): 2.0, ("postgres", 20): 0.5}
    after = {("rasa", 10): 2.0, ("rasa", 11): 3.0, ("postgres", 20): 0.7, ("actions", 30): 0.2}
    shares = cpu_split.split(before, after, client_seconds=0.1, messages=100)
    assert shares["rasa"] == pytest.approx(20.0)  # two Sanic workers, 2 s for 100 messages
    assert shares["postgres"] == pytest.approx(2.0)
    assert shares["actions"] == pytest.approx(2.0)  # started during the run: all of it counts
    assert shares["client"] == pytest.approx(1.0)
    assert shares["redis"] == shares["nginx"] == 0.0
    assert cpu_split._kind("/x/python -m bot.rasa_server run -m m.tar.gz", "python") == "rasa"
    assert cpu_split._kind("/x/python /x/rasa run actions -p 5055", "python") == "actions"
    assert cpu_split._kind("postgres: lotsen lotsen_tracker", "postgres") == "postgres"
    assert cpu_split._kind("/usr/bin/python3 other.py", "python3") is None
