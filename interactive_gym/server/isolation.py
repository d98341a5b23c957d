"""ASGI middleware that adds the server's headers to every HTTP response.

Two sets of headers:

- cross-origin isolation (when :attr:`Settings.cross_origin_isolation` is on):
  ``SharedArrayBuffer`` (used to interrupt a runaway Python step in the worker) is only
  available when the document and the worker script are served with
  ``Cross-Origin-Opener-Policy: same-origin`` and
  ``Cross-Origin-Embedder-Policy: require-corp``;
- the security headers of :mod:`interactive_gym.server.security_headers`
  (Content-Security-Policy, ``X-Content-Type-Options``, ``Referrer-Policy``, frame protection),
  always.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from interactive_gym.server.security_headers import security_headers
from interactive_gym.server.settings import Settings

ISOLATION_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-embedder-policy", b"require-corp"),
    (b"cross-origin-resource-policy", b"same-origin"),
)


def response_headers(settings: Settings) -> tuple[tuple[bytes, bytes], ...]:
    """Every header the middleware adds for ``settings``."""
    isolation = ISOLATION_HEADERS if settings.cross_origin_isolation else ()
    return isolation + security_headers(settings)


class CrossOriginIsolation:
    """Adds the isolation headers (when on) and the security headers to every HTTP response.

    A header the response sets itself is left as it is. Without ``settings`` the defaults
    apply (isolation on, no framing).

    Raises:
        ValueError: a setting the headers are built from is invalid (the message names it).
    """

    def __init__(self, app: ASGIApp, settings: Settings | None = None) -> None:
        self.app = app
        self.headers = response_headers(settings or Settings())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in self.headers if h[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
