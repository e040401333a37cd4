"""Compare Swedish NLU pipeline variants on the held-out file, in one run (prints a table).

Usage: .venv/bin/python bench/nlu_pipelines.py [--variants project,whitespace,no_char,no_matcher]

Each variant is the project's config.yml with one change, trained NLU-only on data/nlu and
scored on tests/nlu/heldout.yml. Times are wall-clock on this machine; compare within a run.
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
from bot.nlu_eval import evaluate_model

Config = dict[str, Any]


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


VARIANTS: dict[str, Callable[[Config], Config]] = {
    "project": lambda config: config,
    "whitespace": _whitespace,
    "no_char": _drop(lambda c: c.get("analyzer") == "char_wb"),
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
            report = asyncio.run(evaluate_model(run.model, REPO / "tests" / "nlu" / "heldout.yml"))
            rows.append((name, report.intent_accuracy, report.macro_f1,
                         report.permit_type_accuracy, run.seconds))  # fmt: skip
    baseline = rows[0][4]
    print(f"{'variant':<12} {'intent acc':>10} {'macro F1':>9} {'permit acc':>10} "
          f"{'train s':>8} {'time ratio':>10}")  # fmt: skip
    for name, accuracy, f1, permit, seconds in rows:
        print(f"{name:<12} {accuracy:>10.3f} {f1:>9.3f} {permit:>10.3f} {seconds:>8.0f} "
              f"{seconds / baseline:>10.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
