"""Start the Rasa server with the project's speed-ups installed: ``python -m bot.rasa_server``.

``python -m bot.rasa_server run -m models --endpoints endpoints.yml ...`` takes exactly the
arguments of the ``rasa`` command. Before handing them to Rasa's own command line it

* makes Rasa validate the action server's answers with one cached, compiled JSON-schema
  validator (:func:`install_cached_action_validation`) instead of re-checking the constant
  response schema against the JSON-Schema meta-schema on every custom-action call (Rasa 3.6's
  ``RemoteAction._validate_action_result`` calls ``jsonschema.validate``, whose
  ``check_schema`` took 40 % of the server's CPU under load: docs/benchmarks.md);
* turns telemetry off unless the environment says otherwise.

Nothing is patched on import: only :func:`main` (or a direct call of the install function)
changes Rasa. The Procfile, the production profile (:mod:`bot.stack`), the test fixtures and the
load benchmark all start the server this way.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Sequence
from typing import Any

# Rasa's own wording (rasa/core/actions/action.py), appended to the schema error's message.
_HINT = (
    ". Failed to validate Action server response from API, make sure your response from the "
    "Action endpoint is valid. For more information about the format visit "
    "{docs}/custom-actions"
)


@functools.cache
def _response_validator(action_class: Any) -> Any:
    """The compiled validator of an action class's response schema, checked once."""
    from jsonschema.validators import validator_for

    schema = action_class.action_response_format_spec()
    validator_class = validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def validate_action_result(action: Any, result: dict[str, Any]) -> bool:
    """Validate an action server's answer as ``jsonschema.validate`` does, with a cached validator.

    Same result as Rasa's ``RemoteAction._validate_action_result``: the schema is checked
    (once per action class, not once per call), the best matching error is raised with Rasa's
    hint appended to its message.

    Args:
        action: The ``RemoteAction`` whose answer this is.
        result: The decoded JSON answer of the action server.

    Returns:
        True when the answer is valid.

    Raises:
        jsonschema.ValidationError: If it is not.
    """
    from jsonschema.exceptions import best_match
    from rasa.shared.constants import DOCS_BASE_URL

    action_class: Any = type(action)
    error = best_match(_response_validator(action_class).iter_errors(result))
    if error is not None:
        error.message += _HINT.format(docs=DOCS_BASE_URL)
        raise error
    return True


def install_cached_action_validation() -> None:
    """Make every ``RemoteAction`` validate answers with :func:`validate_action_result`."""
    from rasa.core.actions.action import RemoteAction

    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]


def main(argv: Sequence[str] | None = None) -> None:
    """Install the speed-ups, then run Rasa's command line with ``argv``.

    Args:
        argv: The ``rasa`` command's arguments (default: this process's arguments).
    """
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    install_cached_action_validation()
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *(sys.argv[1:] if argv is None else argv)]
    rasa_main()


if __name__ == "__main__":
    main()
