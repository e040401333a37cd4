"""Signed session cookies and CSRF tokens for the officials' app (standard library only).

The session is a small JSON object, base64url-encoded and signed with HMAC-SHA256 under a
secret key. It holds a random nonce, the user id after login and the time it was issued; it
expires after :data:`SESSION_MAX_AGE`. The CSRF token is an HMAC of the session nonce, so it
is bound to the session; the nonce is renewed at login and logout.

:func:`register_security_headers` adds the security headers (CSP without inline script,
``frame-ancestors 'none'``, nosniff, Referrer-Policy; HSTS behind TLS) to every response.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse

SESSION_COOKIE = "lotsen_session"
SESSION_MAX_AGE = 8 * 3600
SECRET_ENV = "LOTSEN_SECRET_KEY"  # noqa: S105 - a variable name, not a secret
SECRET_FILE = "secret-key"  # noqa: S105 - a file name, not a secret


def load_secret(var_dir: Path, env: str = SECRET_ENV, filename: str = SECRET_FILE) -> bytes:
    """Return a key: ``$LOTSEN_SECRET_KEY`` or ``<var>/secret-key`` (or the ones named).

    The file is created on first use with a random key, readable only by its owner (0600).
    It is written under a temporary name and linked into place, so a process that starts at
    the same moment never reads a half-written key.

    Args:
        var_dir: Directory for local state.
        env: Environment variable that overrides the file.
        filename: The key file's name in ``var_dir``.

    Returns:
        The key bytes.
    """
    configured = os.environ.get(env, "").strip()
    if configured:
        return configured.encode()
    path = var_dir / filename
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        partial = var_dir / f".{filename}.{os.getpid()}.{secrets.token_hex(4)}"
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        try:
            os.link(partial, path)
        except FileExistsError:
            pass  # another process created it first: use that one
        finally:
            partial.unlink()
    return path.read_text().strip().encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionSigner:
    """Signs and verifies session cookies and derives CSRF tokens."""

    def __init__(self, secret: bytes, max_age: int = SESSION_MAX_AGE) -> None:
        """Create a signer.

        Args:
            secret: The signing key.
            max_age: Seconds a session stays valid.
        """
        self._secret = secret
        self.max_age = max_age

    def _mac(self, purpose: str, data: bytes) -> bytes:
        return hmac.new(self._secret, purpose.encode() + b"|" + data, hashlib.sha256).digest()

    def new_session(self, user_id: int | None = None, version: int = 0) -> dict[str, Any]:
        """Create a session with a fresh nonce.

        Args:
            user_id: The logged-in user, or None before login.
            version: The user's session version (raised at logout to end all sessions).

        Returns:
            The session data.
        """
        return {"n": secrets.token_urlsafe(16), "u": user_id, "v": version, "t": int(time.time())}

    def dumps(self, session: dict[str, Any]) -> str:
        """Encode and sign a session.

        Args:
            session: Session data (JSON-serialisable).

        Returns:
            The cookie value.
        """
        payload = _b64(json.dumps(session, separators=(",", ":")).encode())
        return f"{payload}.{_b64(self._mac('session', payload.encode()))}"

    def loads(self, value: str | None) -> dict[str, Any] | None:
        """Verify and decode a cookie value.

        Args:
            value: The cookie value.

        Returns:
            The session, or None if it is missing, forged, malformed or expired.
        """
        if not value or value.count(".") != 1:
            return None
        payload, signature = value.split(".")
        try:
            expected = self._mac("session", payload.encode())
            if not hmac.compare_digest(expected, _unb64(signature)):
                return None
            session = json.loads(_unb64(payload))
        except (ValueError, binascii.Error):
            return None
        if not isinstance(session, dict) or not isinstance(session.get("n"), str):
            return None
        issued = session.get("t")
        if not isinstance(issued, int) or not 0 <= time.time() - issued <= self.max_age:
            return None
        return session

    def csrf_token(self, session: dict[str, Any]) -> str:
        """Return the CSRF token bound to a session.

        Args:
            session: The session.

        Returns:
            A hex token to put in every form.
        """
        return self._mac("csrf", str(session["n"]).encode()).hex()

    def csrf_valid(self, session: dict[str, Any] | None, token: str | None) -> bool:
        """Check a submitted CSRF token.

        Args:
            session: The request's session.
            token: The token from the form.

        Returns:
            True when it matches the session.
        """
        if session is None or not token:
            return False
        return hmac.compare_digest(self.csrf_token(session), token)


def connect_sources(url: str) -> list[str]:
    """CSP sources that let the page talk to a server over HTTP(S) and WebSocket.

    Args:
        url: The server's public URL, e.g. ``https://chat.kommun.se``; empty for same origin.

    Returns:
        The origin and its WebSocket twin (``wss:`` for ``https:``), or nothing when the URL is
        empty or not http(s) (the page's own origin is always allowed).
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return []
    socket_scheme = "wss" if parts.scheme == "https" else "ws"
    return [f"{parts.scheme}://{parts.netloc}", f"{socket_scheme}://{parts.netloc}"]


def security_headers(connect_urls: Iterable[str] = (), tls: bool = False) -> dict[str, str]:
    """Response headers for every page of the web app.

    Scripts, styles, fonts and images only from the app itself (no inline script or style), no
    framing by other sites, no referrer to other sites, no MIME sniffing. ``connect-src``
    adds the Rasa server the chat widget talks to.

    Args:
        connect_urls: Public URLs of servers the pages connect to (the Rasa server).
        tls: Whether the app is served over HTTPS (adds HSTS).

    Returns:
        Header names and values.
    """
    connect = ["'self'"]
    for url in connect_urls:
        connect.extend(source for source in connect_sources(url) if source not in connect)
    policy = "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"connect-src {' '.join(connect)}",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )
    headers = {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    if tls:
        headers["Strict-Transport-Security"] = "max-age=31536000"
    return headers


def register_security_headers(app: Sanic, headers: Mapping[str, str]) -> None:
    """Add the headers to every response of the app (one response middleware).

    Args:
        app: The Sanic app.
        headers: From :func:`security_headers`; a header a route set itself is kept.
    """

    @app.middleware("response")  # type: ignore[no-untyped-call]
    async def add_security_headers(request: Request, response: HTTPResponse) -> None:
        for name, value in headers.items():
            response.headers.setdefault(name, value)
