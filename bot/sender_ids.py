"""Server-issued, signed sender ids for the public chat channels.

Rasa keys a conversation by its sender id, and anyone who knows the id can read the answers to
it and continue it. So the id is a credential: the server issues it, a random UUID signed with
HMAC-SHA256, ``<32 hex digits>.<32 hex digits>``. The REST channel
(``POST /webhooks/rest/session``), the socket.io channel (``session_request``) and the widget's
delete endpoint accept only ids whose signature is valid; guessing one means guessing a 128-bit
random number and a 128-bit MAC.

The key is ``$LOTSEN_SENDER_KEY`` or the file ``<var>/sender-key`` (mode 0600, created on first
use, never at import). Every Rasa process and the web app must use the same key: on one machine
they share ``var/``; in containers set ``LOTSEN_SENDER_KEY`` (docker compose, Kubernetes secret).
A new key ends every open conversation (the widget starts a new one by itself).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from pathlib import Path

from bot.settings import get_settings
from bot.web.security import load_secret

SENDER_KEY_ENV = "LOTSEN_SENDER_KEY"
SENDER_KEY_FILE = "sender-key"
SIGNED_ID = re.compile(r"[0-9a-f]{32}\.[0-9a-f]{32}")
"""The shape of a signed sender id."""


class SenderIds:
    """Issues and checks signed sender ids; the key is loaded at the first use."""

    def __init__(self, var_dir: Path | None = None, key: bytes | None = None) -> None:
        """Create the issuer.

        Args:
            var_dir: Where the key file lives (the settings' ``var/`` when None).
            key: The key itself (tests); read from the environment or the file when None.
        """
        self._var_dir = var_dir
        self._key = key

    def _mac(self, random_part: str) -> str:
        if self._key is None:
            self._key = load_secret(
                self._var_dir or get_settings().var_dir, SENDER_KEY_ENV, SENDER_KEY_FILE
            )
        message = b"lotsen-sender-id:" + random_part.encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:32]

    def issue(self) -> str:
        """A new signed sender id."""
        random_part = uuid.uuid4().hex
        return f"{random_part}.{self._mac(random_part)}"

    def is_valid(self, sender_id: object) -> bool:
        """Whether a value is a sender id this server issued.

        Args:
            sender_id: Anything a client sent.

        Returns:
            True only for a string of the signed shape with a correct signature.
        """
        if not isinstance(sender_id, str) or not SIGNED_ID.fullmatch(sender_id):
            return False
        random_part, signature = sender_id.split(".")
        return hmac.compare_digest(signature, self._mac(random_part))
