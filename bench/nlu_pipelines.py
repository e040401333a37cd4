"""Compare Swedish NLU pipeline variants on the held-out file, in one run (prints a table).

Usage: .venv/bin/python bench/nlu_pipelines.py [--variants project,diet,whitespace,no_matcher]

Each variant is the project's config.yml with one change, trained NLU-only on data/nlu and
scored on tests/nlu/heldout.yml: intents, permit types, and the F1 of the entities the whole
pipeline returns (bot.nlu_eval.evaluate_entities). ``diet`` is the entity part before issue 7's
step 7: DIETClassifier (60 epochs) over lexical, word and character n-gram features instead of
the CRFEntityExtractor. Times are wall-clock on this machine; compare within a run.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import REPO, project_config, train_rasa_nlu
from bot.nlu_eval import evaluate_entities, evaluate_model

Config = dict[str, Any]
HELDOUT = REPO / "tests" / "nlu" / "heldout.yml"


def _replace(name: str, new: list[Config]) -> Callable[[Config], Config]:
    def change(config: Config) -> Config:
        pipeline: list[Config] = []
        for component in config["pipeline"]:
            pipeline.extend(new if component["name"] == name else [component])
        return {**config, "pipeline": pipeline}

    return change


def _drop(predicate: Callable[[Config], bool]) -> Callable[[Config], Config]:
    def change(config: Config) -> Config:
        return {**config, "pipeline": [c for c in config["pipeline"] if not predicate(c)]}

    return change


def _whitespace(config: Config) -> Config:
    config = _drop(lambda c: c["name"] == "SpacyNLP")(config)
    return _replace("SpacyTokenizer", [{"name": "WhitespaceTokenizer"}])(config)


ENTITIES = ("area", "plot_size", "permit_type")
DIET_ENTITIES: list[Config] = [
    {"name": "LexicalSyntacticFeaturizer"},
    {"name": "CountVectorsFeaturizer"},
    {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 2, "max_ngram": 4,
     "min_df": 2},
    {"name": "DIETClassifier", "epochs": 60, "number_of_transformer_layers": 1,
     "transformer_size": 128, "batch_size": [64, 256], "constrain_similarities": True,
     "random_seed": 42},
]  # fmt: skip

VARIANTS: dict[str, Callable[[Config], Config]] = {
    "project": lambda config: config,
    "diet": _replace("CRFEntityExtractor", DIET_ENTITIES),
    "whitespace": _whitespace,
    "no_matcher": _drop(lambda c: c["name"].endswith("PermitTypeMatcher")),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args()
    base = project_config()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.variants.split(","):
            config = VARIANTS[name](copy.deepcopy(base))
            # A fresh training cache per variant, so the time is a full training.
            run = train_rasa_nlu(config, REPO / "data" / "nlu", Path(tmp), name)
            report = asyncio.run(evaluate_model(run.model, HELDOUT))
            entities = asyncio.run(evaluate_entities(run.model, HELDOUT, ENTITIES))
            rows.append((name, report.intent_accuracy, report.macro_f1,
                         report.permit_type_accuracy, *(entities[e].f1 for e in ENTITIES),
                         run.seconds, run.size_bytes / 1e6))  # fmt: skip
    baseline = rows[0][-2]
    print(
        "| variant | intent acc | macro F1 | permit_type acc | F1 area | F1 plot_size "
        "| F1 permit_type | train s | time ratio | model MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, *scores, seconds, size in rows:
        shown = " | ".join(f"{score:.3f}" for score in scores)
        print(f"| {name} | {shown} | {seconds:.0f} | {seconds / baseline:.2f} | {size:.1f} |")


if __name__ == "__main__":
    main()
