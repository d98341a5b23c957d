"""The security headers every HTTP response carries, and the Content-Security-Policy they hold.

The policy is the narrowest one under which every page the server serves still works:

- scripts only from this server, never inline, never ``eval``; ``'wasm-unsafe-eval'`` lets
  Pyodide, the dynamic libraries of binary packages and onnxruntime-web compile WebAssembly;
- styles from this server and inline (researchers' consent and instruction HTML carries them);
- images from this server and ``data:`` (the study page's empty icon is ``data:,``);
- ``fetch``/socket.io (``connect-src``) to this server, plus the origin of the binary Pyodide
  packages when :attr:`Settings.pyodide_packages` names a CDN or URL;
- workers only from this server; no plugins, no ``<base>``, forms only to this server;
- embedding in frames only by :attr:`Settings.frame_ancestors` (none by default).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from interactive_gym.server.settings import PYODIDE_CDN_TEMPLATE, Settings

#: A frame ancestor: ``'self'`` or an http(s) origin, whose host may start with ``*.`` and
#: whose port may be ``*``. Nothing else can reach the header (no spaces, ``;`` or ``,``).
_ANCESTOR = re.compile(
    r"'self'|https?://(?:\*\.)?[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::(?:\d{1,5}|\*))?"
)
_HOST = re.compile(r"[A-Za-z0-9.-]+(?::\d{1,5})?")


def check_frame_ancestors(sources: Iterable[str]) -> tuple[str, ...]:
    """The ``frame_ancestors`` setting, checked.

    Raises:
        ValueError: an entry is not ``'self'`` or an http(s) origin such as
            ``https://worker.mturk.com`` or ``https://*.mturk.com``.
    """
    if isinstance(sources, str):
        raise ValueError(f"frame_ancestors {sources!r}: expected a list of origins, not one string")
    checked = tuple(sources)
    for source in checked:
        if not isinstance(source, str) or not _ANCESTOR.fullmatch(source):
            raise ValueError(
                f"frame_ancestors entry {source!r}: expected 'self' or an origin such as "
                "https://worker.mturk.com or https://*.mturk.com (scheme and host, no path)"
            )
    return checked


def package_origin(settings: Settings) -> str | None:
    """The origin binary Pyodide packages are fetched from, when it is not this server.

    Raises:
        ValueError: ``pyodide_packages`` is a URL without a usable host.
    """
    source = settings.pyodide_packages
    if source == "cdn":
        source = PYODIDE_CDN_TEMPLATE
    if not source.startswith(("http://", "https://")):
        return None
    parts = urlsplit(source)
    if not _HOST.fullmatch(parts.netloc):
        raise ValueError(
            f"pyodide_packages {settings.pyodide_packages!r}: expected an http(s) URL such as "
            "https://example.org/pyodide/full/"
        )
    return f"{parts.scheme}://{parts.netloc.lower()}"


def content_security_policy(settings: Settings) -> str:
    """The ``Content-Security-Policy`` header value for ``settings``."""
    packages = package_origin(settings)
    ancestors = check_frame_ancestors(settings.frame_ancestors) or ("'none'",)
    directives: list[tuple[str, tuple[str, ...]]] = [
        ("default-src", ("'self'",)),
        ("script-src", ("'self'", "'wasm-unsafe-eval'")),
        ("style-src", ("'self'", "'unsafe-inline'")),
        ("img-src", ("'self'", "data:")),
        ("connect-src", ("'self'",) + ((packages,) if packages else ())),
        ("worker-src", ("'self'",)),
        ("object-src", ("'none'",)),
        ("base-uri", ("'none'",)),
        ("form-action", ("'self'",)),
        ("frame-ancestors", ancestors),
    ]
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives)


def security_headers(settings: Settings) -> tuple[tuple[bytes, bytes], ...]:
    """The security headers (ASGI form: lower-case names, latin-1 bytes) for ``settings``."""
    headers: list[tuple[str, str]] = [
        ("content-security-policy", content_security_policy(settings)),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),
    ]
    # For browsers without frame-ancestors (it takes precedence wherever it is understood).
    if not settings.frame_ancestors:
        headers.append(("x-frame-options", "DENY"))
    elif tuple(settings.frame_ancestors) == ("'self'",):
        headers.append(("x-frame-options", "SAMEORIGIN"))
    return tuple((name.encode("latin-1"), value.encode("latin-1")) for name, value in headers)
