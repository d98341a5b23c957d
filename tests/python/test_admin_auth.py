"""The admin console's login, sessions, guard, audit log and password command, over HTTP against
a Starlette app of :class:`AdminAuth`'s routes and a real SQLite database."""

from __future__ import annotations

import io
import logging
import re
import threading
from collections.abc import AsyncIterator, Iterator
from http.cookies import SimpleCookie
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from interactive_gym.admin import cli, passwords
from interactive_gym.admin.assets import asset_path
from interactive_gym.admin.audit import audit, audit_async, audit_log
from interactive_gym.admin.auth import AdminAuth, AdminSession
from interactive_gym.admin.passwords import (
    ENV_VAR,
    PasswordError,
    PasswordSource,
    hash_from_env,
    hash_password,
    set_password,
)
from interactive_gym.admin.sessions import COOKIE, LOGIN_COOKIE, SessionKeys
from interactive_gym.data.admin_store import read_setting
from interactive_gym.data.store import Store
from interactive_gym.server.tokens import TokenSigner

SECRET = "admin-test-secret-" + "x" * 30
PASSWORD = "correct horse battery staple"
#: Cheap argon2id for tests only; the real default is argon2-cffi's.
FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
CONSOLE = '<!DOCTYPE html><meta name="ig-csrf" content="{{csrf}}"><p>console</p>'


class Clock:
    """Unix time that only moves when told."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'study.db'}")
    yield s
    s.close()


@pytest.fixture
def static(tmp_path: Path) -> Path:
    folder = tmp_path / "static"
    folder.mkdir()
    (folder / "console.html").write_text(CONSOLE)
    (folder / "console.js").write_text("export const x = 1;\n")
    (folder / ".hidden.js").write_text("secret")
    (folder / "notes.txt").write_text("text")
    (tmp_path / "outside.js").write_text("outside")
    return folder


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_auth(store: Store, static: Path, clock: Clock, **options: object) -> AdminAuth:
    options.setdefault("max_stale_s", 0.0)  # every check sees the database's password
    return AdminAuth(store, SECRET, static_dir=static, clock=clock, **options)  # type: ignore[arg-type]


async def whoami(request: Request) -> Response:
    session: AdminSession = request.state.admin
    return JSONResponse({"ok": True, "actor": session.actor})


def make_app(auth: AdminAuth) -> Starlette:
    return Starlette(
        routes=[
            *auth.routes(),
            Route("/admin/api/whoami", auth.guard(whoami)),
            Route("/admin/api/act", auth.guard(whoami, write=True), methods=["POST"]),
        ]
    )


@pytest.fixture
def auth(store: Store, static: Path, clock: Clock) -> AdminAuth:
    return make_auth(store, static, clock)


@pytest.fixture
async def client(auth: AdminAuth) -> AsyncIterator[httpx.AsyncClient]:
    async with browser(auth) as c:
        yield c


def browser(auth: AdminAuth, base_url: str = "http://testserver") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=make_app(auth), client=("203.0.113.7", 5000))
    return httpx.AsyncClient(transport=transport, base_url=base_url)


def form_token(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


async def login(c: httpx.AsyncClient, password: str = PASSWORD) -> httpx.Response:
    """What a browser does: open the login form, submit it."""
    page = await c.get("/admin")
    assert page.status_code == 200
    return await c.post("/admin/login", data={"password": password, "csrf": form_token(page.text)})


def csrf_of(html: str) -> str:
    found = re.search(r'name="ig-csrf" content="([^"]+)"', html)
    assert found, html
    return found.group(1)


async def console(c: httpx.AsyncClient) -> str:
    page = await c.get("/admin")
    assert page.status_code == 200 and "<p>console</p>" in page.text
    return csrf_of(page.text)


def set_with_cli(store: Store, password: str = PASSWORD) -> None:
    out = io.StringIO()
    argv = ["set-password", "--db", store.url, "--stdin"]
    assert cli.main(argv, stdin=io.StringIO(password + "\n"), stdout=out, hasher=FAST) == 0
    assert "admin password set" in out.getvalue()


def cookie_attributes(response: httpx.Response, name: str) -> dict[str, str]:
    for header in response.headers.get_list("set-cookie"):
        parsed = SimpleCookie()
        parsed.load(header)
        if name in parsed:
            morsel = parsed[name]
            attributes = {k: str(v) for k, v in morsel.items() if v}
            attributes["value"] = morsel.value
            attributes["raw"] = header
            return attributes
    raise AssertionError(f"no Set-Cookie for {name}: {response.headers.get_list('set-cookie')}")


# off until a password is set ----------------------------------------------------------------


async def test_admin_is_off_and_says_how_to_turn_it_on(client: httpx.AsyncClient) -> None:
    page = await client.get("/admin")
    assert page.status_code == 200
    assert "python -m interactive_gym.admin set-password" in page.text
    assert "IG_ADMIN_PASSWORD_HASH" in page.text
    assert "<script" not in page.text and page.headers["cache-control"] == "no-store"
    api = await client.get("/admin/api/whoami")
    assert api.status_code == 404 and api.json()["error"] == "admin_disabled"
    attempt = await client.post("/admin/login", data={"password": "anything at all"})
    assert attempt.status_code == 404
    assert (await client.get("/admin/assets/console.js")).status_code == 404


async def test_set_password_on_the_command_line_then_login(
    client: httpx.AsyncClient, store: Store
) -> None:
    assert (await client.get("/admin/api/whoami")).status_code == 404
    set_with_cli(store)  # the running app picks it up, no restart
    stored = read_setting(store, passwords.SETTING)
    assert stored is not None and stored.value.startswith("$argon2id$")
    assert PASSWORD not in stored.value
    assert (await client.get("/admin/api/whoami")).status_code == 401
    page = await client.get("/admin")
    assert 'type="password"' in page.text and page.text.count("<input") == 2  # + hidden csrf
    assert "<script" not in page.text
    answer = await login(client)
    assert answer.status_code == 303 and answer.headers["location"] == "/admin"
    csrf = await console(client)
    me = await client.get("/admin/api/whoami")
    assert me.status_code == 200 and me.json()["actor"].endswith("@203.0.113.7")
    entries = audit_log(store)
    assert [e["action"] for e in entries] == ["login", "password_set"]
    assert entries[0]["actor"] == me.json()["actor"] and entries[1]["actor"].startswith("cli")
    assert len(csrf) == 43


async def test_wrong_password_is_refused_audited_logged_and_throttled(
    client: httpx.AsyncClient, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    set_password(store, PASSWORD, FAST)
    caplog.set_level(logging.INFO, "interactive_gym.admin")
    for _ in range(5):
        wrong = await login(client, "not the password at all")
        assert wrong.status_code == 401 and "Wrong password." in wrong.text
        assert COOKIE not in wrong.cookies
    throttled = await login(client)  # even the right password waits now
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) >= 1
    assert "Too many login attempts" in throttled.text
    assert (await client.get("/admin/api/whoami")).status_code == 401
    failed = audit_log(store, action="login_failed")
    assert len(failed) == 5 and failed[0]["actor"] == "anonymous@203.0.113.7"
    assert not audit_log(store, action="login")
    assert "admin login from 203.0.113.7 failed" in caplog.text
    assert "refused: too many" in caplog.text


async def test_the_throttle_is_per_client(auth: AdminAuth, store: Store) -> None:
    set_password(store, PASSWORD, FAST)
    async with browser(auth) as first:
        for _ in range(5):
            await login(first, "not the password at all")
        assert (await login(first)).status_code == 429
    transport = httpx.ASGITransport(app=make_app(auth), client=("198.51.100.9", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        assert (await login(other)).status_code == 303


async def test_a_login_without_the_forms_token_is_refused(
    client: httpx.AsyncClient, store: Store
) -> None:
    set_password(store, PASSWORD, FAST)
    bare = await client.post("/admin/login", data={"password": PASSWORD})
    assert bare.status_code == 403 and COOKIE not in bare.cookies
    page = await client.get("/admin")
    client.cookies.delete(LOGIN_COOKIE)  # a form posted from another site: no login cookie
    forged = await client.post(
        "/admin/login", data={"password": PASSWORD, "csrf": form_token(page.text)}
    )
    assert forged.status_code == 403
    json_body = await client.post("/admin/login", json={"password": PASSWORD})
    assert json_body.status_code == 400
    assert not audit_log(store, action="login")


async def test_password_checks_run_off_the_event_loop(
    client: httpx.AsyncClient, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_password(store, PASSWORD, FAST)
    threads = []
    real = passwords.verify_password

    def spy(password_hash: str, password: str) -> bool:
        threads.append(threading.current_thread())
        return real(password_hash, password)

    monkeypatch.setattr("interactive_gym.admin.auth.verify_password", spy)
    assert (await login(client)).status_code == 303
    assert threads and threads[0] is not threading.main_thread()


# the session cookie ---------------------------------------------------------------------------


async def test_session_cookie_flags(auth: AdminAuth, store: Store) -> None:
    set_password(store, PASSWORD, FAST)
    async with browser(auth) as c:
        answer = await login(c)
    flags = cookie_attributes(answer, COOKIE)
    assert "httponly" in flags and flags["samesite"].lower() == "strict" and flags["path"] == "/"
    assert flags["max-age"] == str(8 * 3600) and flags["expires"]
    assert "secure" not in flags  # plain http (local)
    form = cookie_attributes(answer, LOGIN_COOKIE)  # the login form's cookie is cleared
    assert form["max-age"] == "0" and form["path"] == "/admin"
    async with browser(auth, "https://testserver") as c:
        answer = await login(c)
    assert "secure" in cookie_attributes(answer, COOKIE)


async def test_tampered_and_expired_sessions_are_refused(
    auth: AdminAuth, store: Store, clock: Clock
) -> None:
    set_password(store, PASSWORD, FAST)
    async with browser(auth) as c:
        await login(c)
        good = c.cookies[COOKIE]
        assert (await c.get("/admin/api/whoami")).status_code == 200
    session_id, issued, expires, fingerprint, signature = good.split(".")
    longer = f"{session_id}.{issued}.{int(expires) + 86400}.{fingerprint}.{signature}"
    flipped = good[:-1] + ("A" if good[-1] != "A" else "B")
    other_key = SessionKeys("another-server-secret-xxxxxxxx").issue(fingerprint, 3600, clock())[0]
    for value in (longer, flipped, other_key, "garbage", good + "x", ""):
        async with browser(auth) as c:
            c.cookies.set(COOKIE, value)
            refused = await c.get("/admin/api/whoami")
            assert refused.status_code == 401, value
            assert refused.json()["error"] == "login_required"
            assert "Password" in (await c.get("/admin")).text  # the login form
    async with browser(auth) as c:
        c.cookies.set(COOKIE, good)
        assert (await c.get("/admin/api/whoami")).status_code == 200
        clock.now += 8 * 3600 + 1
        assert (await c.get("/admin/api/whoami")).status_code == 401


async def test_a_shorter_session_setting_shortens_sessions_already_open(
    store: Store, static: Path, clock: Clock
) -> None:
    set_password(store, PASSWORD, FAST)
    async with browser(make_auth(store, static, clock)) as c:
        await login(c)
        cookie = c.cookies[COOKIE]
    restarted = make_auth(store, static, clock, session_s=3600)
    async with browser(restarted) as c:
        c.cookies.set(COOKIE, cookie)
        assert (await c.get("/admin/api/whoami")).status_code == 200
        clock.now += 3601
        assert (await c.get("/admin/api/whoami")).status_code == 401


async def test_a_participant_token_opens_nothing(auth: AdminAuth, store: Store) -> None:
    set_password(store, PASSWORD, FAST)
    token = TokenSigner(SECRET, "some_study").issue("p1")
    attempts = [
        {"cookies": {"ig_participant": token}},
        {"cookies": {COOKIE: token}},
        {"headers": {"authorization": f"Bearer {token}"}},
        {"headers": {"x-csrf-token": token}},
        {"params": {"token": token}},
    ]
    for attempt in attempts:
        async with browser(auth) as c:
            for name, value in attempt.get("cookies", {}).items():
                c.cookies.set(name, value)
            headers = attempt.get("headers", {})
            params = attempt.get("params", {})
            assert (
                await c.get("/admin/api/whoami", headers=headers, params=params)
            ).status_code == 401
            post = await c.post("/admin/api/act", headers=headers, params=params)
            assert post.status_code == 401
            assert "<p>console</p>" not in (await c.get("/admin", headers=headers)).text
            assert (await c.get("/admin/assets/console.js", headers=headers)).status_code == 401
    environ = {"HTTP_COOKIE": f"ig_participant={token}; {COOKIE}={token}"}
    assert auth.socket_session(environ, {"csrf": token}) is None


async def test_writes_need_the_csrf_token(client: httpx.AsyncClient, store: Store) -> None:
    set_password(store, PASSWORD, FAST)
    await login(client)
    csrf = await console(client)
    assert (await client.post("/admin/api/act")).status_code == 403
    wrong = await client.post("/admin/api/act", headers={"x-csrf-token": csrf[:-1] + "x"})
    assert wrong.status_code == 403 and wrong.json()["error"] == "csrf"
    unicode = await client.post("/admin/api/act", headers={"x-csrf-token": "é".encode()})
    assert unicode.status_code == 403
    right = await client.post("/admin/api/act", headers={"x-csrf-token": csrf})
    assert right.status_code == 200 and right.json()["ok"]
    assert (await client.get("/admin/api/whoami")).status_code == 200  # reads need none


async def test_a_new_password_ends_every_session(client: httpx.AsyncClient, store: Store) -> None:
    set_password(store, PASSWORD, FAST)
    await login(client)
    assert (await client.get("/admin/api/whoami")).status_code == 200
    set_with_cli(store, "a brand new password")
    assert (await client.get("/admin/api/whoami")).status_code == 401
    assert (await login(client, PASSWORD)).status_code == 401
    assert (await login(client, "a brand new password")).status_code == 303
    assert (await client.get("/admin/api/whoami")).status_code == 200


async def test_logout_revokes_the_session(client: httpx.AsyncClient, store: Store) -> None:
    set_password(store, PASSWORD, FAST)
    await login(client)
    csrf = await console(client)
    cookie = client.cookies[COOKIE]
    assert (await client.post("/admin/logout")).status_code == 403  # no token: not logged out
    assert (await client.get("/admin/api/whoami")).status_code == 200
    answer = await client.post("/admin/logout", headers={"x-csrf-token": csrf})
    assert answer.status_code == 200 and answer.json() == {"ok": True}
    assert cookie_attributes(answer, COOKIE)["max-age"] == "0"
    client.cookies.set(COOKIE, cookie)  # replayed: refused all the same
    assert (await client.get("/admin/api/whoami")).status_code == 401
    assert "<p>console</p>" not in (await client.get("/admin")).text
    logout = audit_log(store, action="logout")
    assert len(logout) == 1 and logout[0]["actor"].startswith("admin:")


async def test_logout_by_form_redirects(client: httpx.AsyncClient, store: Store) -> None:
    set_password(store, PASSWORD, FAST)
    await login(client)
    csrf = await console(client)
    answer = await client.post("/admin/logout", data={"csrf": csrf})
    assert answer.status_code == 303 and answer.headers["location"] == "/admin"
    assert (await client.get("/admin/api/whoami")).status_code == 401


# the environment variable --------------------------------------------------------------------


async def test_the_environment_variable_hash_works_and_wins(
    store: Store, static: Path, clock: Clock
) -> None:
    set_password(store, "the database password", FAST)
    env_hash = hash_password(PASSWORD, FAST)
    assert hash_from_env({ENV_VAR: f"  {env_hash}\n"}) == env_hash
    auth = make_auth(store, static, clock, env_hash=hash_from_env({ENV_VAR: env_hash}))
    async with browser(auth) as c:
        assert (await login(c, "the database password")).status_code == 401
        assert (await login(c)).status_code == 303
        await console(c)


def test_a_malformed_environment_hash_is_an_error_naming_the_variable(
    store: Store, static: Path, clock: Clock
) -> None:
    for bad in ("secret", "$argon2id$v=19$m=65536,t=3,p=4$short", "$2b$12$abcdefghijk"):
        with pytest.raises(PasswordError, match=ENV_VAR):
            hash_from_env({ENV_VAR: bad})
        with pytest.raises(PasswordError, match=ENV_VAR):
            make_auth(store, static, clock, env_hash=bad)
    expanded = "=19,m=65536,t=3,p=4$abc$def"  # what an unquoted $argon2id$v... becomes in a shell
    with pytest.raises(PasswordError, match="single quotes"):
        hash_from_env({ENV_VAR: expanded})
    argon2i = PasswordHasher(
        time_cost=1, memory_cost=8, parallelism=1, type=__import__("argon2").Type.I
    )
    with pytest.raises(PasswordError, match="argon2id"):
        hash_from_env({ENV_VAR: argon2i.hash("x" * 12)})
    assert hash_from_env({}) is None and hash_from_env({ENV_VAR: " "}) is None


# the socket ----------------------------------------------------------------------------------


async def test_socket_session_needs_the_cookie_and_its_csrf_token(
    client: httpx.AsyncClient, auth: AdminAuth, store: Store
) -> None:
    set_password(store, PASSWORD, FAST)
    await login(client)
    csrf = await console(client)
    cookie = f"{COOKIE}={client.cookies[COOKIE]}"
    environ = {"HTTP_COOKIE": cookie, "asgi.scope": {"client": ("192.0.2.4", 1)}}
    session = auth.socket_session(environ, {"csrf": csrf})
    assert session is not None and session.csrf == csrf
    assert session.actor.endswith("@192.0.2.4") and auth.is_valid(session)
    assert auth.socket_session(environ, None) is None
    assert auth.socket_session(environ, {}) is None
    assert auth.socket_session(environ, {"csrf": csrf[:-1] + "x"}) is None
    assert auth.socket_session(environ, {"csrf": 1}) is None
    assert auth.socket_session({}, {"csrf": csrf}) is None
    assert auth.socket_session({"HTTP_COOKIE": "ig_admin=bad"}, {"csrf": csrf}) is None
    auth.revoke(session)
    assert not auth.is_valid(session)
    assert auth.socket_session(environ, {"csrf": csrf}) is None


# the console page and its files --------------------------------------------------------------


async def test_console_page_and_assets(
    client: httpx.AsyncClient, store: Store, static: Path
) -> None:
    set_password(store, PASSWORD, FAST)
    assert (await client.get("/admin/assets/console.js")).status_code == 401
    await login(client)
    page = await client.get("/admin")
    assert "{{csrf}}" not in page.text and page.headers["cache-control"] == "no-store"
    script = await client.get("/admin/assets/console.js")
    assert script.status_code == 200 and script.text == "export const x = 1;\n"
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.headers["cache-control"] == "no-store"
    for name in ("../outside.js", "..%2Foutside.js", ".hidden.js", "notes.txt", "missing.js", ""):
        assert (await client.get(f"/admin/assets/{name}")).status_code == 404, name
    (static / "console.html").unlink()
    missing = await client.get("/admin")
    assert missing.status_code == 500 and "console.html" in missing.text


# the password source and the audit log -------------------------------------------------------


async def test_the_database_hash_is_read_at_most_once_a_second(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [100.0]
    reads = []
    real = passwords.read_setting

    def counting(s: Store, key: str):  # noqa: ANN202
        reads.append(threading.current_thread())
        return real(s, key)

    monkeypatch.setattr(passwords, "read_setting", counting)
    source = PasswordSource(store, clock=lambda: now[0])
    assert await source.refresh() is None and len(reads) == 1
    hashed = set_password(store, PASSWORD, FAST)
    for _ in range(50):
        assert source.current() is None  # cached: the new password is not seen yet
    assert await source.refresh() is None and len(reads) == 1
    now[0] += 1.5
    assert await source.refresh() == hashed and len(reads) == 2
    assert all(t is not threading.main_thread() for t in reads)
    assert source.current() == hashed and len(reads) == 2


def test_password_rules() -> None:
    with pytest.raises(PasswordError, match="at least 12"):
        hash_password("short", FAST)
    with pytest.raises(PasswordError, match="spaces"):
        hash_password(" " * 20, FAST)
    with pytest.raises(PasswordError, match="at most"):
        hash_password("x" * 2000, FAST)
    hashed = hash_password(PASSWORD)  # argon2-cffi's defaults: the strong ones
    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert passwords.verify_password(hashed, PASSWORD)
    assert not passwords.verify_password(hashed, PASSWORD + "!")
    assert not passwords.verify_password(hashed, "")


def test_cli_hash_password_and_mismatched_prompts(
    store: Store, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = io.StringIO()
    assert (
        cli.main(["hash-password", "--stdin"], stdin=io.StringIO(PASSWORD), stdout=out, hasher=FAST)
        == 0
    )
    printed = out.getvalue().strip()
    assert hash_from_env({ENV_VAR: printed}) == printed
    assert passwords.verify_password(printed, PASSWORD)
    typed = iter([PASSWORD, PASSWORD + "?"])
    monkeypatch.setattr(cli.getpass, "getpass", lambda prompt="": next(typed))
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["set-password", "--db", store.url], hasher=FAST)
    assert exit_info.value.code == 2 and "differ" in capsys.readouterr().err
    assert read_setting(store, passwords.SETTING) is None
    with pytest.raises(SystemExit):
        cli.main(["set-password", "--db", store.url, "--stdin"], stdin=io.StringIO("too short\n"))
    assert "at least 12 characters" in capsys.readouterr().err
    typed = iter([PASSWORD, PASSWORD])
    assert cli.main(["set-password", "--db", store.url], stdout=out, hasher=FAST) == 0
    assert read_setting(store, passwords.SETTING) is not None


async def test_audit_log(store: Store) -> None:
    first = audit(store, "admin:abcdefgh@1.2.3.4", "exclude", "p1", {"reason": "bot"})
    second = await audit_async(store, "admin:abcdefgh@1.2.3.4", "export", None, {"format": "csv"})
    assert second.id > first.id
    entries = audit_log(store)
    assert [e["action"] for e in entries] == ["export", "exclude"]
    assert entries[1] == {
        "id": first.id,
        "at": first.at.isoformat(),
        "actor": "admin:abcdefgh@1.2.3.4",
        "action": "exclude",
        "target": "p1",
        "detail": {"reason": "bot"},
    }
    assert [e["action"] for e in audit_log(store, before=second.id)] == ["exclude"]
    assert len(audit_log(store, limit=1)) == 1
    with pytest.raises(ValueError, match="detail"):
        audit(store, "x", "exclude", "p1", {"when": object()})
    with pytest.raises(ValueError, match="action"):
        audit(store, "x", "", "p1")
    with pytest.raises(ValueError, match="actor"):
        audit(store, "x" * 300, "exclude")


def test_asset_paths_stay_inside_the_folder(static: Path, tmp_path: Path) -> None:
    (static / "link.js").symlink_to(tmp_path / "outside.js")
    (static / "sub").mkdir()
    (static / "sub" / "tab.js").write_text("")
    assert asset_path(static, "console.js") == (static / "console.js").resolve()
    assert asset_path(static, "sub/tab.js") == (static / "sub" / "tab.js").resolve()
    for name in (
        "../outside.js",
        "/etc/passwd",
        "sub/../../outside.js",
        "link.js",
        ".hidden.js",
        "sub",
        "notes.txt",
        "a\\b.js",
        "console.js\x00.js",
        "./console.js",
        "sub//tab.js",
    ):
        assert asset_path(static, name) is None, name
