"""``python -m interactive_gym.bots URL --n N``: simulated participants in headless Chromium.

Each bot is a fresh browser context (its own cookies and storage, so its own participant)
opening ``URL?bot=random``: the study page then clicks through static scenes and answers
surveys with random valid answers through the same inputs a person uses. All bots run at
once; the command reports each one's outcome and exits non-zero unless all finished.

    python -m interactive_gym.bots http://127.0.0.1:5001/ --n 20
        [--timeout 300] [--pause-ms 150] [--id-param PROLIFIC_PID] [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import time
from dataclasses import asdict, dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from playwright.async_api import Browser, async_playwright

from interactive_gym.chromium import CHROMIUM, CHROMIUM_ARGS
from interactive_gym.page_wait import wait_until_async

DONE = "window.interactiveGym && (window.interactiveGym.finished || window.interactiveGym.error)"


@dataclass
class Outcome:
    """How one bot's run ended."""

    bot: int
    outcome: str  # "finished", "error" (the page failed; its message in detail) or "timeout"
    seconds: float
    participant_id: str | None = None
    completion_code: str | None = None
    detail: str | None = None


def bot_url(url: str, extra: dict[str, str]) -> str:
    """``url`` with ``bot=random`` and ``extra`` added to its query (other parameters kept)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.setdefault("bot", "random")
    query.update(extra)
    return urlunsplit(parts._replace(query=urlencode(query)))


async def run_bot(browser: Browser, index: int, url: str, timeout_s: float) -> Outcome:
    """One simulated participant from arrival to the completion code."""
    start = time.monotonic()
    context = await browser.new_context()
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        await page.goto(url, timeout=timeout_s * 1000)
        await wait_until_async(page, DONE, timeout=timeout_s * 1000)
        status = await page.evaluate("({...window.interactiveGym})")
        if not status["finished"]:  # the page failed (e.g. an upload refused): no code to read
            elapsed = time.monotonic() - start
            return Outcome(index, "error", elapsed, status["participantId"], None, status["error"])
        code = await page.locator("#ig-completion-code").text_content(timeout=1000)
        elapsed = time.monotonic() - start
        return Outcome(index, "finished", elapsed, status["participantId"], code)
    except Exception as exc:  # noqa: BLE001 - report every failure as an outcome
        kind = "timeout" if "Timeout" in type(exc).__name__ else "error"
        detail = "; ".join(errors) or str(exc).splitlines()[0]
        return Outcome(index, kind, time.monotonic() - start, None, None, detail)
    finally:
        await context.close()


async def run_bots(
    url: str,
    n: int,
    *,
    timeout_s: float = 300,
    pause_ms: int = 150,
    id_param: str | None = None,
    chromium: str = CHROMIUM,
) -> list[Outcome]:
    """Run ``n`` bots at once against the study at ``url``; their outcomes in bot order."""
    run_id = secrets.token_hex(3)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            jobs = []
            for i in range(n):
                extra = {"bot_pause_ms": str(pause_ms)}
                if id_param:
                    extra[id_param] = f"bot-{run_id}-{i}"
                jobs.append(run_bot(browser, i, bot_url(url, extra), timeout_s))
            return list(await asyncio.gather(*jobs))
        finally:
            await browser.close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m interactive_gym.bots",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("url", help="the study's entry URL, e.g. http://127.0.0.1:5001/")
    parser.add_argument("--n", type=int, default=1, help="number of bots (default: 1)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per bot (default: 300)")
    parser.add_argument("--pause-ms", type=int, default=150, help="mean pause between actions")
    parser.add_argument("--id-param", help="give each bot its own id in this URL parameter")
    parser.add_argument("--chromium", default=CHROMIUM, help="Chromium executable")
    parser.add_argument("--json", action="store_true", help="print the outcomes as JSON lines")
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("--n must be at least 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    outcomes = asyncio.run(
        run_bots(
            args.url,
            args.n,
            timeout_s=args.timeout,
            pause_ms=args.pause_ms,
            id_param=args.id_param,
            chromium=args.chromium,
        )
    )
    for o in outcomes:
        if args.json:
            print(json.dumps(asdict(o)))
        else:
            extra = f"code {o.completion_code}" if o.outcome == "finished" else (o.detail or "")
            who = o.participant_id or "-"
            print(f"bot {o.bot:>3}  {o.outcome:<8} {o.seconds:6.1f} s  {who}  {extra}")
    finished = sum(o.outcome == "finished" for o in outcomes)
    print(f"{finished} of {len(outcomes)} bots finished", file=sys.stderr)
    raise SystemExit(0 if finished == len(outcomes) else 1)


if __name__ == "__main__":
    main()
