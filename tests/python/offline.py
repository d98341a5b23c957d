"""Browser contexts that may only talk to the test server: anything else is refused and listed."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Browser, BrowserContext


def local_only_context(browser: Browser, base_url: str) -> tuple[BrowserContext, list[str]]:
    """A new context whose requests outside ``base_url`` are aborted and collected."""
    context = browser.new_context()
    outside: list[str] = []

    def only_local(route: Any) -> None:
        if route.request.url.startswith(base_url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_local)
    return context, outside
