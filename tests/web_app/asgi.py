"""A minimal ASGI test client for the Sanic app (sanic-testing cannot be installed: it pins
httpx<0.24, whose h11<0.15 breaks wsproto and httpcore2 that Rasa's dependencies need)."""

from __future__ import annotations

import dataclasses
import re
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode, urlsplit

from sanic import Sanic


@dataclasses.dataclass
class Response:
    status: int
    headers: dict[str, list[str]]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[0] if values else None

    @property
    def location(self) -> str | None:
        return self.header("location")


class Client:
    """Sends requests through the app's ASGI interface and keeps cookies like a browser."""

    def __init__(self, app: Sanic) -> None:
        self.app = app
        self.cookies: dict[str, str] = {}
        self.started = False

    async def _lifespan(self) -> None:
        # What Sanic 21.12's ASGI lifespan startup does (its lifespan path is broken there).
        self.app.asgi = True
        await self.app._startup()
        await self.app._server_event("init", "before")
        await self.app._server_event("init", "after")
        self.started = True

    async def request(
        self,
        method: str,
        url: str,
        data: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        client: str = "127.0.0.1",
        body: bytes | None = None,
        content_type: str = "application/x-www-form-urlencoded",
    ) -> Response:
        """Send a request; ``data`` is form-encoded, ``body`` is sent as it is."""
        if not self.started:
            await self._lifespan()
        parts = urlsplit(url)
        if body is None and data is not None:
            body = urlencode(data, doseq=True).encode()
        raw_headers = [(b"host", b"testserver")]
        if body is not None:
            raw_headers.append((b"content-type", content_type.encode()))
            raw_headers.append((b"content-length", str(len(body)).encode()))
        body = body or b""
        if self.cookies:
            cookie = "; ".join(f"{key}={value}" for key, value in self.cookies.items())
            raw_headers.append((b"cookie", cookie.encode()))
        for key, value in (headers or {}).items():
            raw_headers.append((key.lower().encode(), value.encode()))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": parts.path,
            "raw_path": parts.path.encode(),
            "query_string": parts.query.encode(),
            "root_path": "",
            "headers": raw_headers,
            "client": (client, 50000),
            "server": ("testserver", 80),
        }
        chunks = [{"type": "http.request", "body": body, "more_body": False}]
        status = 0
        response_headers: dict[str, list[str]] = {}
        response_body = bytearray()

        async def receive() -> dict[str, Any]:
            return chunks.pop(0) if chunks else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                for key, value in message.get("headers", []):
                    response_headers.setdefault(key.decode().lower(), []).append(value.decode())
            elif message["type"] == "http.response.body":
                response_body.extend(message.get("body", b""))

        await self.app(scope, receive, send)  # type: ignore[arg-type]
        for set_cookie in response_headers.get("set-cookie", []):
            parsed: SimpleCookie = SimpleCookie()
            parsed.load(set_cookie)
            for key, morsel in parsed.items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(key, None)
                else:
                    self.cookies[key] = morsel.value
        return Response(status=status, headers=response_headers, body=bytes(response_body))

    async def get(self, url: str, **kwargs: Any) -> Response:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Response:
        return await self.request("POST", url, data=data or {}, **kwargs)

    def csrf(self, page: Response) -> str:
        match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
        assert match, "page has no CSRF token"
        return match.group(1)
