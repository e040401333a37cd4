"""Structured (JSON lines) logging for the production profile, without personal data.

Every record becomes one JSON object: time, level, logger, message and, for errors, the
exception class (not its text, which may quote user input). Personnummer are masked in the
message as a last line of defence; the code itself logs ids, counts and class names only.
"""

from __future__ import annotations

import datetime as dt
import json
import logging

from bot.privacy import mask_personnummer


class JsonFormatter(logging.Formatter):
    """Format log records as single-line JSON objects."""

    def format(self, record: logging.LogRecord) -> str:
        """Render one record.

        Args:
            record: The log record.

        Returns:
            A JSON object on one line.
        """
        entry: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": mask_personnummer(record.getMessage()),
        }
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = record.exc_info[0].__name__
        return json.dumps(entry, ensure_ascii=False)


def configure_json_logging(level: int = logging.INFO) -> None:
    """Send the root logger's records to stderr as JSON lines.

    Args:
        level: Root log level.
    """
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def use_json_format(logger_names: tuple[str, ...] = ("", "sanic.root", "sanic.error")) -> None:
    """Switch the handlers already installed (e.g. Rasa's coloredlogs) to JSON lines.

    Rasa installs its coloured console handler after reading ``--logging-config-file``; the
    Rasa server's health channel calls this once the app is built.

    Args:
        logger_names: Loggers whose handlers to switch ("" is the root logger).
    """
    formatter = JsonFormatter()
    for name in logger_names:
        for handler in logging.getLogger(name).handlers:
            handler.setFormatter(formatter)
