"""NLU parse time of one model in one process: wall-clock and CPU milliseconds per message.

Usage:
    nice -n 10 .venv/bin/python bench/parse_latency.py MODEL [--messages 300]

Loads the model as the Rasa server does (Rasa's TensorFlow thread settings from the
environment: ``TF_INTRA_OP_PARALLELISM_THREADS``, ``TF_INTER_OP_PARALLELISM_THREADS``), parses
a few typical messages of the project's conversations once to warm up, then ``--messages`` times
in turn, and prints the time per message. Run it with different environments to compare
settings; CPU time is the steadier figure on a busy machine.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MESSAGES = (
    "behöver jag bygglov för att bygga ut min verkstad?",
    "ja tack",
    "Anna Svensson",
    "finns det ledig industrimark på 5000 kvm?",
    "hej",
    "vi vill bygga till 150 kvm på verkstaden",
)


async def measure(model: Path, count: int) -> tuple[float, float]:
    """Milliseconds of wall-clock and CPU time per parsed message."""
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    for text in MESSAGES:
        await agent.parse_message(text)
    wall, cpu = time.perf_counter(), time.process_time()
    for number in range(count):
        await agent.parse_message(MESSAGES[number % len(MESSAGES)])
    return 1000 * (time.perf_counter() - wall) / count, 1000 * (time.process_time() - cpu) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--messages", type=int, default=300)
    args = parser.parse_args()
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    import rasa.utils.tensorflow.environment as tf_env
    from rasa.utils.log_utils import configure_structlog

    logging.basicConfig(level=logging.WARNING)
    configure_structlog(logging.WARNING)  # no debug line per parse
    tf_env.setup_tf_environment()
    wall_ms, cpu_ms = asyncio.run(measure(args.model, args.messages))
    threads = os.environ.get("TF_INTRA_OP_PARALLELISM_THREADS", "default")
    print(f"| {threads} | {wall_ms:.1f} | {cpu_ms:.1f} |")


if __name__ == "__main__":
    main()
