"""What an admin route module needs of the login: a ``guard`` around each endpoint.

:class:`~interactive_gym.admin.auth.AdminAuth` is the real one (the other half); the route
modules (``api.py``, ``downloads.py``, ``actions.py``) take any :class:`Guard`, so their tests
can pass a stand-in.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from starlette.requests import Request
from starlette.responses import Response

#: A Starlette endpoint.
Endpoint = Callable[[Request], Awaitable[Response]]


class Guard(Protocol):
    """Wraps an endpoint so only an admin session reaches it (``write``: and its CSRF token)."""

    def guard(self, endpoint: Endpoint, *, write: bool = False) -> Endpoint: ...
