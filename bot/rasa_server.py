"""Start the Rasa server with the project's speed-ups installed: ``python -m bot.rasa_server``.

``python -m bot.rasa_server run -m models --endpoints endpoints.yml ...`` takes exactly the
arguments of the ``rasa`` command. Before handing them to Rasa's own command line it

* makes Rasa validate the action server's answers with one cached, compiled JSON-schema
  validator (:func:`install_cached_action_validation`) instead of re-checking the constant
  response schema against the JSON-Schema meta-schema on every custom-action call (Rasa 3.6's
  ``RemoteAction._validate_action_result`` calls ``jsonschema.validate``, whose
  ``check_schema`` took 40 % of the server's CPU under load: docs/benchmarks.md);
* makes Rasa find an event's class by its type name with a dictionary
  (:func:`install_cached_event_types`) instead of walking every subclass of ``Event`` for each
  event it reads (``Event.resolve_by_type``: about half of loading a stored conversation);
* makes Rasa's HTTP calls (the action server on every custom action) reuse kept-alive
  connections (:func:`install_pooled_http_sessions`) instead of opening a new TCP connection
  per call: ``EndpointConfig.session`` builds a new ``aiohttp.ClientSession`` with its own
  connector each time, and connecting was 11 % of the server's CPU under load;
* turns telemetry off unless the environment says otherwise, and switches off Rasa's crash
  reporting (:func:`disable_error_reporting`): Rasa's command line sends uncaught exceptions to
  Rasa's own Sentry project with a key shipped in the package, whatever
  ``RASA_TELEMETRY_ENABLED`` says, and an exception message may quote a user's text.

Every ``rasa`` command the project runs for real (the server, the action server, trainings from
the officials' app) goes through here: :func:`rasa_command` builds the command line.

Nothing is patched on import: only :func:`main` (or a direct call of the install function)
changes Rasa. The Procfile, the production profile (:mod:`bot.stack`), the test fixtures and the
load benchmark all start the server this way.
"""

from __future__ import annotations

import asyncio
import functools
import os
import sys
import weakref
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


@functools.cache
def _event_class(type_name: str) -> Any:
    """The first subclass of ``Event`` with this type name, in Rasa's own search order."""
    from rasa.shared.core.events import Event
    from rasa.shared.utils.common import all_subclasses

    return next((c for c in all_subclasses(Event) if c.type_name == type_name), None)


def resolve_event_type(type_name: str, default: Any = None) -> Any:
    """``Event.resolve_by_type`` with the classes found remembered by type name.

    Same answers as Rasa's: the class, ``None`` for the old ``topic`` events, ``default``, or
    ``ValueError`` for unknown names (unknown names are looked up again every time, so an event
    class defined later is still found).

    Args:
        type_name: The ``event`` field of a serialised event.
        default: Class to return for an unknown name.

    Returns:
        The event class (or None).

    Raises:
        ValueError: For an unknown name without a default.
    """
    found = _event_class(type_name)
    if found is None:
        _event_class.cache_clear()
        found = _event_class(type_name)
    if found is not None:
        return found
    if type_name == "topic":
        return None
    if default is not None:
        return default
    raise ValueError(f"Unknown event name '{type_name}'.")


def install_cached_event_types() -> None:
    """Make ``Event.resolve_by_type`` (used for every event read) a dictionary look-up."""
    from rasa.shared.core.events import Event

    Event.resolve_by_type = staticmethod(resolve_event_type)  # type: ignore[method-assign,assignment]


KEEPALIVE_SECONDS = 2.0
"""How long an idle connection is kept: shorter than the servers' own idle timeouts (Sanic's
5 s, nginx's 75 s), so a request is never sent on a connection the server is closing."""

_connectors: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def shared_connector() -> Any:
    """The running event loop's ``aiohttp.TCPConnector`` for Rasa's HTTP calls (made once)."""
    import aiohttp

    loop = asyncio.get_running_loop()
    connector = _connectors.get(loop)
    if connector is None or connector.closed:
        # limit=0: as many connections as before, when every call had a connector of its own.
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=KEEPALIVE_SECONDS)
        _connectors[loop] = connector
    return connector


def pooled_session(endpoint: Any) -> Any:
    """Replacement of ``EndpointConfig.session``: Rasa's session on the shared connector.

    Same headers, authentication and timeout as Rasa's; closing the session (Rasa does after
    every call) leaves the connector and its kept-alive connections open.
    """
    import aiohttp
    from rasa.utils.endpoints import DEFAULT_REQUEST_TIMEOUT

    auth = None
    if endpoint.basic_auth:
        auth = aiohttp.BasicAuth(endpoint.basic_auth["username"], endpoint.basic_auth["password"])
    return aiohttp.ClientSession(
        headers=endpoint.headers,
        auth=auth,
        timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
        connector=shared_connector(),
        connector_owner=False,
    )


def install_pooled_http_sessions() -> None:
    """Make every ``EndpointConfig`` request reuse the event loop's kept-alive connections."""
    from rasa.utils.endpoints import EndpointConfig

    EndpointConfig.session = pooled_session  # type: ignore[method-assign]


def _no_error_reporting() -> None:
    """Replacement of ``rasa.telemetry.initialize_error_reporting``: report nothing."""


def disable_error_reporting() -> None:
    """Keep Rasa's command line from starting Sentry crash reports to Rasa's project."""
    import rasa.telemetry

    rasa.telemetry.initialize_error_reporting = _no_error_reporting


def rasa_command(*args: str) -> list[str]:
    """The command line that runs ``rasa <args>`` through this launcher.

    Args:
        args: The ``rasa`` command's arguments, e.g. ``"run", "actions"``.

    Returns:
        ``[python, "-m", "bot.rasa_server", *args]``.
    """
    return [sys.executable, "-m", "bot.rasa_server", *args]


def main(argv: Sequence[str] | None = None) -> None:
    """Install the speed-ups, then run Rasa's command line with ``argv``.

    Args:
        argv: The ``rasa`` command's arguments (default: this process's arguments).
    """
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    disable_error_reporting()
    install_cached_action_validation()
    install_cached_event_types()
    install_pooled_http_sessions()
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *(sys.argv[1:] if argv is None else argv)]
    rasa_main()


if __name__ == "__main__":
    main()
