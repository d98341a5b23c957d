"""The Pyodide worker in real headless Chromium, served by a real uvicorn server.

Every request the page makes is checked to stay on the test server: Pyodide, micropip and the
packages come from our own server, never from the internet.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from offline import local_only_context
from playwright.sync_api import Browser, Page, sync_playwright
from wheels import make_wheel

from interactive_gym.chromium import CHROMIUM, CHROMIUM_ARGS
from interactive_gym.local_server import serve
from interactive_gym.page_wait import wait_until
from interactive_gym.server import Settings, create_app
from interactive_gym.server.settings import PROJECT_DIR
from interactive_gym.server.wheelhouse import Wheelhouse

pytestmark = pytest.mark.browser

PROJECT_WHEELHOUSE = PROJECT_DIR / "data" / "wheelhouse"
SCALE_MODULE = "from ig_demo_b import FACTOR\n\ndef scale(x):\n    return x * FACTOR\n"


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """micropip from the project's wheelhouse plus two made-up packages, one needing the other."""
    directory = tmp_path_factory.mktemp("wheelhouse")
    micropip = Wheelhouse(PROJECT_WHEELHOUSE).find("micropip")
    assert micropip, f"no micropip wheel in {PROJECT_WHEELHOUSE}: run bin/setup first"
    shutil.copy(micropip[-1].path, directory)
    make_wheel(directory, "ig-demo-b", "1.0", {"ig_demo_b.py": "FACTOR = 7\n"})
    make_wheel(
        directory,
        "ig-demo-a",
        "2.0",
        {"ig_demo_a/__init__.py": SCALE_MODULE},
        requires=("ig-demo-b>=1.0",),
    )
    return directory


def start(tmp_path: Path, wheelhouse: Path, isolation: bool = True) -> Any:
    settings = Settings(
        wheelhouse=wheelhouse,
        db_url=f"sqlite:///{tmp_path / 'study.db'}",
        secret="a-test-secret-of-enough-length",
        cross_origin_isolation=isolation,
    )
    return serve(create_app(settings))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def open_page(browser: Browser, base_url: str) -> tuple[Page, list[str]]:
    """A page on the test server; returns it with the list of requests that left the server."""
    context, outside = local_only_context(browser, base_url)
    return context.new_page(), outside


def run_verification_page(page: Page, url: str) -> dict[str, Any]:
    """Open the verification page, run it, and return ``window.testResults`` once all passed."""
    page.goto(url)
    page.click("text=Run Test")
    wait_until(page, "window.testResults && window.testResults.done", timeout=180_000)
    results: dict[str, Any] = page.evaluate("window.testResults")
    failed = [c for c in results["checks"] if not c["ok"]]
    assert failed == [], failed
    assert results["failed"] == 0
    assert results["passed"] >= 10, results["checks"]
    assert results["pings"] >= 5
    assert page.evaluate("window.crossOriginIsolated") is True
    assert "All tests passed" in page.inner_text("#summary")
    return results


@pytest.mark.parametrize("snapshots", [False, True], ids=["snapshots-off", "snapshots-on"])
def test_verification_page_passes_headless(
    browser: Browser, tmp_path: Path, wheelhouse: Path, snapshots: bool
) -> None:
    with start(tmp_path, wheelhouse) as base_url:
        page, outside = open_page(browser, base_url)
        url = f"{base_url}/static/js/test_pyodide_worker.html{'?snapshots=1' if snapshots else ''}"
        first = run_verification_page(page, url)
        assert page.inner_text("#snapshots") == ("on" if snapshots else "off")
        if not snapshots:
            assert first["load"]["kind"] == "boot"
            assert first["load"]["snapshot"] == "off"
            assert first["snapshotSaved"] == {"stored": False}
        else:
            # The first visit boots and stores a snapshot; the next, in the same browser, restores.
            assert first["load"]["kind"] == "boot", first["load"]
            assert first["load"]["snapshot"] == "made", first["load"]
            assert first["snapshotSaved"]["stored"] is True, first["snapshotSaved"]
            assert first["snapshotSaved"]["bytes"] > 10_000_000
            again = run_verification_page(page, url)
            assert again["load"]["kind"] == "restore", again["load"]
            assert again["load"]["snapshot"] == "restored", again["load"]
            assert "problem" not in again["load"]
            assert again["snapshotSaved"] == {"stored": False}
            assert again["passed"] == first["passed"] - 1, "every check again but the storing"
        assert outside == []


RUNAWAY = """async () => {
  const { PyodideWorker } = await import("/static/js/PyodideWorker.js");
  const crashes = [];
  // A generous grace: a loaded machine can take seconds to schedule the worker again, and
  // this test is about the interrupt keeping the env, not about how soon it lands.
  const w = new PyodideWorker({
    timeoutMs: 5000,
    interruptGraceMs: 20000,
    onCrash: (e) => crashes.push(e.message),
  });
  await w.init();
  await w.initEnv({ code: `
class Env:
    def reset(self, seed=None, options=None):
        self.n = 0
        return 0, {}
    def step(self, action):
        while action == "spin":
            pass
        self.n += 1
        return self.n, 0.0, False, False, {}
env = Env()
` });
  await w.reset({});
  await w.step("go");
  const out = { canInterrupt: w.canInterrupt };
  const started = performance.now();
  try {
    await w.step("spin", { timeoutMs: 700 });
    out.error = null;
  } catch (e) {
    out.error = { name: e.name, message: e.message };
  }
  out.waitedMs = performance.now() - started;
  const resumed = performance.now();
  try {
    const next = await w.step("go");
    out.after = next.observation;
    out.resumedMs = performance.now() - resumed;
  } catch (e) {
    out.after = `${e.name}: ${e.message}`;
  }
  out.crashes = crashes;
  w.destroy();
  return out;
}"""


def test_runaway_step_is_interrupted_and_the_env_survives(
    browser: Browser, tmp_path: Path, wheelhouse: Path
) -> None:
    with start(tmp_path, wheelhouse) as base_url:
        page, _ = open_page(browser, base_url)
        page.goto(f"{base_url}/static/js/test_pyodide_worker.html")
        out = page.evaluate(RUNAWAY)
    assert out["canInterrupt"] is True
    assert out["error"]["name"] == "TimeoutError"
    assert "interrupted" in out["error"]["message"]
    assert out["after"] == 2, f"the env keeps its state (its second completed step): {out}"
    assert out["crashes"] == []


def test_without_isolation_a_runaway_step_ends_the_worker_clearly(
    browser: Browser, tmp_path: Path, wheelhouse: Path
) -> None:
    with start(tmp_path, wheelhouse, isolation=False) as base_url:
        page, _ = open_page(browser, base_url)
        page.goto(f"{base_url}/static/js/test_pyodide_worker.html")
        assert page.evaluate("window.crossOriginIsolated") is False
        out = page.evaluate(RUNAWAY)
    assert out["canInterrupt"] is False
    assert out["error"]["name"] == "TimeoutError"
    assert "not cross-origin isolated" in out["error"]["message"]
    assert "crashed" in out["after"]
    assert len(out["crashes"]) == 1


INSTALL = """async () => {
  const { PyodideWorker } = await import("/static/js/PyodideWorker.js");
  const w = new PyodideWorker();
  await w.init();
  const out = {};
  out.installed = await w.installPackages(["ig-demo-a"]);
  await w.initEnv({ code: `
import ig_demo_a
class Env:
    def reset(self, seed=None, options=None):
        return ig_demo_a.scale(seed), {}
    def step(self, action):
        return 0, 0.0, False, False, {}
env = Env()
` });
  out.observation = (await w.reset({ seed: 6 })).observation;
  try {
    await w.installPackages(["no-such-package-here"]);
  } catch (e) {
    out.missing = `${e.name}: ${e.message}`;
  }
  out.stillWorks = (await w.reset({ seed: 2 })).observation;
  w.destroy();
  return out;
}"""


def test_install_packages_from_the_local_wheelhouse_offline(
    browser: Browser, tmp_path: Path, wheelhouse: Path
) -> None:
    with start(tmp_path, wheelhouse) as base_url:
        page, outside = open_page(browser, base_url)
        page.goto(f"{base_url}/static/js/test_pyodide_worker.html")
        out = page.evaluate(INSTALL)
    assert out["installed"] == {"installed": ["ig-demo-a"]}
    assert out["observation"] == 42, "ig-demo-a and its dependency ig-demo-b were installed"
    assert "no-such-package-here" in out["missing"]
    assert out["stillWorks"] == 14
    assert outside == []
