"""Where the CPU of one message goes: CPU milliseconds per message of each process kind.

Usage:
    .venv/bin/python bench/cpu_split.py [--systems project,production] [--users 20]
        [--duration 30] [--model models/xyz.tar.gz]

Starts each system as ``bench/load.py`` does (same ``serving``), holds ``--users`` concurrent
conversations for ``--duration`` seconds and reads, from /proc, the CPU time (user + system)
every process of the machine spent meanwhile, grouped by kind: the Rasa servers (Sanic workers
included), the action servers, PostgreSQL, Redis, nginx, and this client. Divided by the
messages answered: CPU milliseconds per message. Other work on the machine does not count
(only these processes are read), but it slows them down: compare within a run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import load

KINDS = ("rasa", "actions", "postgres", "redis", "nginx")


def _kind(command: str, name: str) -> str | None:
    if "bot.rasa_server" in command and " actions" not in command:
        return "rasa"
    if "bot.action_server" in command or "run actions" in command:
        return "actions"
    for kind in ("postgres", "redis", "nginx"):
        if name.startswith(kind):
            return kind
    return None


def cpu_seconds_by_process() -> dict[tuple[str, int], float]:
    """CPU seconds (user + system) so far of every process of a known kind, by (kind, pid)."""
    ticks = os.sysconf("SC_CLK_TCK")
    found: dict[tuple[str, int], float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            stat = (entry / "stat").read_text()
        except OSError:  # the process ended meanwhile
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        kind = _kind(command, name)
        if kind is None:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        found[kind, int(entry.name)] = (int(fields[11]) + int(fields[12])) / ticks
    return found


def split(before: dict[tuple[str, int], float], after: dict[tuple[str, int], float],
          client_seconds: float, messages: int) -> dict[str, float]:  # fmt: skip
    """CPU milliseconds per message of each kind between two readings (and the client's)."""
    totals = dict.fromkeys(KINDS, 0.0)
    for key, seconds in after.items():
        totals[key[0]] += seconds - before.get(key, 0.0)
    totals["client"] = client_seconds
    return {kind: 1000 * seconds / messages for kind, seconds in totals.items() if messages}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--systems", default="project,production")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--model", type=Path, default=None)
    args = parser.parse_args()
    print(f"| system | msg/s | {' | '.join(f'{k} ms/msg' for k in (*KINDS, 'client'))} | total |")
    print(f"|---|---|{'---|' * (len(KINDS) + 2)}")
    with tempfile.TemporaryDirectory(prefix="cpu-split-") as tmp:
        for system in args.systems.split(","):
            with load.serving(system, Path(tmp), args.model) as servers:
                asyncio.run(load.run_level(system, servers.url, 1, 60, 1))  # warm-up
                before, started = cpu_seconds_by_process(), time.process_time()
                stats = asyncio.run(
                    load.run_level(system, servers.url, args.users, args.duration, None)
                )
                client = time.process_time() - started
                per_message = split(before, cpu_seconds_by_process(), client, len(stats.latencies))
                rate = len(stats.latencies) / (stats.finished - stats.started)
                shown = " | ".join(f"{per_message[k]:.1f}" for k in (*KINDS, "client"))
                print(f"| {system} | {rate:.1f} | {shown} | {sum(per_message.values()):.1f} |",
                      flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
