"""The HTML of ``/admin`` before the console: the page saying how to turn it on, and the login
form. Plain HTML without scripts (the form posts to ``/admin/login``); the console itself is
``static/console.html``, served by :mod:`interactive_gym.admin.auth`, the other half."""

from __future__ import annotations

from html import escape

_STYLE = """<style>
body { font: 16px/1.5 system-ui, sans-serif; margin: 0; background: #f4f5f7; color: #1d2330; }
main { max-width: 34rem; margin: 10vh auto; padding: 2rem; background: #fff;
       border-radius: 8px; box-shadow: 0 1px 4px rgba(0, 0, 0, .12); }
h1 { font-size: 1.4rem; margin-top: 0; }
code, pre { font-family: ui-monospace, monospace; background: #eef0f4; border-radius: 4px; }
pre { padding: .6rem .8rem; white-space: pre-wrap; word-break: break-all; }
label { display: block; margin: 1rem 0 .3rem; font-weight: 600; }
input[type=password] { width: 100%; box-sizing: border-box; padding: .5rem; font-size: 1rem; }
button { margin-top: 1rem; padding: .5rem 1.4rem; font-size: 1rem; }
.error { color: #a01818; font-weight: 600; }
</style>"""


def _page(title: str, body: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{escape(title)}</title>
<link rel="icon" href="data:,">
{_STYLE}
</head><body><main>
{body}
</main></body></html>
"""


def disabled_page() -> str:
    """``/admin`` while no password is set: how to turn the console on."""
    return _page(
        "Admin console off",
        """<h1>The admin console is off</h1>
<p id="ig-admin-disabled">No admin password is set, so nobody can log in. There is no default
password. To turn the console on, set one on the server's machine:</p>
<pre>python -m interactive_gym.admin set-password --db DATABASE_URL</pre>
<p>(the same <code>--db</code> as the server's; <code>--stdin</code> reads it from a pipe). The
running server picks it up within a second.</p>
<p>Or put a hash in the environment variable <code>IG_ADMIN_PASSWORD_HASH</code> before the
server starts (it wins over the database); print one with:</p>
<pre>python -m interactive_gym.admin hash-password</pre>""",
    )


def login_page(form_token: str, message: str | None = None) -> str:
    """The login form: one password field, and the hidden login CSRF token."""
    error = (
        f'<p class="error" id="ig-admin-error" role="alert">{escape(message)}</p>\n'
        if message
        else ""
    )
    return _page(
        "Admin login",
        f"""<h1>Admin console</h1>
{error}<form method="post" action="/admin/login">
<input type="hidden" name="csrf" value="{escape(form_token)}">
<label for="ig-admin-password">Password</label>
<input type="password" id="ig-admin-password" name="password" required autofocus
       autocomplete="current-password">
<button type="submit">Log in</button>
</form>""",
    )


def message_page(title: str, message: str) -> str:
    """A short page with one message (a missing console file, a refused request)."""
    return _page(title, f"<h1>{escape(title)}</h1>\n<p>{escape(message)}</p>")
