"""Compare Swedish NLU pipeline variants on the held-out file, in one run (prints a table).

Usage: .venv/bin/python bench/nlu_pipelines.py [--variants project,whitespace,no_char,no_matcher]

Each variant is the project's config.yml with one change, trained NLU-only on data/nlu and
scored on tests/nlu/heldout.yml. Times are wall-clock on this machine; compare within a run.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.nlu_eval import evaluate_model  # noqa: E402

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
    base = yaml.safe_load((REPO / "config.yml").read_text())
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.variants.split(","):
            config = VARIANTS[name](copy.deepcopy(base))
            config_path = Path(tmp) / f"{name}.yml"
            config_path.write_text(yaml.safe_dump(config, allow_unicode=True))
            out = Path(tmp) / name
            # A fresh training cache per variant, so the time is a full training.
            env["RASA_CACHE_DIRECTORY"] = str(Path(tmp) / f"cache-{name}")
            started = time.monotonic()
            subprocess.run(
                [str(Path(sys.executable).with_name("rasa")), "train", "nlu", "--config",
                 str(config_path), "--nlu", "data/nlu", "--out", str(out), "--quiet"],
                cwd=REPO, env=env, check=True, capture_output=True,
            )  # fmt: skip
            seconds = time.monotonic() - started
            report = asyncio.run(evaluate_model(out, REPO / "tests" / "nlu" / "heldout.yml"))
            rows.append((name, report.intent_accuracy, report.macro_f1,
                         report.permit_type_accuracy, seconds))  # fmt: skip
    baseline = rows[0][4]
    print(f"{'variant':<12} {'intent acc':>10} {'macro F1':>9} {'permit acc':>10} "
          f"{'train s':>8} {'time ratio':>10}")  # fmt: skip
    for name, accuracy, f1, permit, seconds in rows:
        print(f"{name:<12} {accuracy:>10.3f} {f1:>9.3f} {permit:>10.3f} {seconds:>8.0f} "
              f"{seconds / baseline:>10.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
