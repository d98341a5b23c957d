"""Wait in a Playwright page until a JavaScript expression is truthy, under the server's CSP.

Playwright's ``page.wait_for_function`` runs its expression through ``eval`` inside the page,
which the server's Content-Security-Policy forbids (``script-src`` has no ``'unsafe-eval'``),
so it fails on every page the server serves. :func:`wait_until` and :func:`wait_until_async`
do the same job by polling with ``page.evaluate_handle``, which Playwright runs through the
DevTools protocol and the policy does not restrict. Anything that drives the study pages in
Chromium (bots, benchmarks, tests) waits with these.
"""

from __future__ import annotations

import asyncio
import datetime
import time
from typing import Any

from playwright.async_api import JSHandle as AsyncJSHandle
from playwright.async_api import Page as AsyncPage
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import JSHandle, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

#: Playwright's own default for waits without a timeout.
DEFAULT_TIMEOUT_MS = 30_000
#: Time between two evaluations of the expression.
INTERVAL_MS = 30
#: Messages of errors raised while the page navigates; the wait goes on in the new document.
_NAVIGATING = ("Execution context was destroyed", "Cannot find context", "navigation")

Timeout = float | datetime.timedelta | None


def _timeout_ms(timeout: Timeout) -> float:
    if timeout is None:
        return DEFAULT_TIMEOUT_MS
    if isinstance(timeout, datetime.timedelta):
        return timeout.total_seconds() * 1000
    return float(timeout)


def _navigating(error: PlaywrightError) -> bool:
    return any(text in str(error) for text in _NAVIGATING)


def _timed_out(expression: str, timeout_ms: float) -> PlaywrightTimeoutError:
    return PlaywrightTimeoutError(
        f"Timeout {timeout_ms:.0f}ms exceeded waiting until this is truthy: {expression}"
    )


def wait_until(
    page: Page,
    expression: str,
    *,
    arg: Any = None,
    timeout: Timeout = None,
    interval_ms: float = INTERVAL_MS,
) -> JSHandle:
    """Return a handle to the truthy value of ``expression`` (or of calling it with ``arg``).

    Raises:
        playwright.sync_api.TimeoutError: not truthy within ``timeout`` ms (default 30 s).
        playwright.sync_api.Error: the expression threw, or the page closed.
    """
    limit = _timeout_ms(timeout)
    deadline = time.monotonic() + limit / 1000
    while True:
        try:
            handle = page.evaluate_handle(expression, arg)
            if handle.evaluate("(value) => !!value"):
                return handle
            handle.dispose()
        except PlaywrightError as error:
            if not _navigating(error):
                raise
        if time.monotonic() >= deadline:
            raise _timed_out(expression, limit)
        time.sleep(interval_ms / 1000)


async def wait_until_async(
    page: AsyncPage,
    expression: str,
    *,
    arg: Any = None,
    timeout: Timeout = None,
    interval_ms: float = INTERVAL_MS,
) -> AsyncJSHandle:
    """:func:`wait_until` for Playwright's async API."""
    limit = _timeout_ms(timeout)
    deadline = time.monotonic() + limit / 1000
    while True:
        try:
            handle = await page.evaluate_handle(expression, arg)
            if await handle.evaluate("(value) => !!value"):
                return handle
            await handle.dispose()
        except PlaywrightError as error:
            if not _navigating(error):
                raise
        if time.monotonic() >= deadline:
            raise _timed_out(expression, limit)
        await asyncio.sleep(interval_ms / 1000)
