// @ts-check
// The admin console's DOM-free logic (interactive_gym/admin/static/format.js, query.js,
// shape.js): how values are written, the API's URLs, and the shaping of the server's payloads
// into funnel bars, balance rows, histograms and the timeline, including payloads with fields
// missing or of the wrong type. Also checks the console's sources never parse text as HTML and
// its page holds no inline script. The console in a browser against a real server is tested in
// the Python browser tests. Run with `node --test tests/js/`.
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { test } from "node:test";

import {
  DASH,
  ago,
  clock,
  dateTime,
  duration,
  flag,
  json,
  ms,
  num,
  params,
  percent,
  text,
  toDate,
} from "../../interactive_gym/admin/static/format.js";
import {
  apiUrl,
  auditUrl,
  exportUrl,
  parseHash,
  participantHash,
  participantUrl,
  participantsUrl,
  queryString,
  recordsUrl,
  segment,
} from "../../interactive_gym/admin/static/query.js";
import {
  arrivalSeries,
  binLabels,
  conditionRows,
  funnelRows,
  histogram,
  isBot,
  listOf,
  liveState,
  returnGroups,
  summary,
  surveyBars,
  timelineItems,
} from "../../interactive_gym/admin/static/shape.js";

const STATIC = new URL("../../interactive_gym/admin/static/", import.meta.url);

// ---- format.js

test("text writes any value, with a dash for what is missing", () => {
  for (const missing of [null, undefined, "", NaN, Infinity]) assert.equal(text(missing), DASH);
  assert.equal(text("abc"), "abc");
  assert.equal(text(0), "0");
  assert.equal(text(true), "yes");
  assert.equal(text({ a: [1, 2] }), '{"a":[1,2]}');
  assert.equal(text("abcdefghij", 5), "abcd…");
  // Markup stays text: the console puts it on the page with textContent only.
  assert.equal(text("<img src=x onerror=alert(1)>"), "<img src=x onerror=alert(1)>");
  const cyclic = {};
  cyclic.self = cyclic;
  assert.equal(text(cyclic), "[object Object]");
});

test("numbers, durations and percentages", () => {
  assert.equal(num(1234567), "1,234,567");
  assert.equal(num(3.14159, 2), "3.14");
  assert.equal(num(2.5), "3");
  assert.equal(num("12"), DASH);
  assert.equal(ms(0.42), "0.4 ms");
  assert.equal(ms(12.6), "13 ms");
  assert.equal(ms(1520), "1.5 s");
  assert.equal(ms(null), DASH);
  assert.equal(duration(4.25), "4.3 s");
  assert.equal(duration(42), "42 s");
  assert.equal(duration(185), "3 min 05 s");
  assert.equal(duration(7800), "2 h 10 min");
  assert.equal(duration(undefined), DASH);
  assert.equal(percent(0.5), "50%");
  assert.equal(percent(0.035), "3.5%");
  assert.equal(percent(0), "0%");
  assert.equal(flag(true), "yes");
  assert.equal(flag(false), "no");
  assert.equal(flag(null), DASH);
});

test("times from ISO strings, Unix milliseconds or seconds", () => {
  const local = new Date(2024, 0, 2, 3, 4, 5);
  assert.equal(clock(local.getTime()), "03:04:05");
  assert.equal(clock(local.getTime() / 1000), "03:04:05");
  assert.equal(clock(local.toISOString()), "03:04:05");
  assert.equal(dateTime(local.getTime()), "2024-01-02 03:04:05");
  assert.equal(toDate("not a date"), null);
  assert.equal(toDate({}), null);
  assert.equal(clock(undefined), DASH);
  const now = local.getTime();
  assert.equal(ago(now - 500, now), "just now");
  assert.equal(ago(now - 12_000, now), "12 s ago");
  assert.equal(ago(now - 3 * 60_000, now), "3 min ago");
  assert.equal(ago(now - 2 * 3_600_000, now), "2 h ago");
  assert.equal(ago(null, now), DASH);
});

test("URL parameters and JSON for display", () => {
  assert.equal(params({ PROLIFIC_PID: "abc", bot: "random" }), "PROLIFIC_PID=abc, bot=random");
  assert.equal(params({}), DASH);
  assert.equal(params(["a"]), DASH);
  assert.equal(params(null), DASH);
  assert.equal(json({ a: 1 }), '{\n  "a": 1\n}');
  assert.equal(json(null), DASH);
  assert.equal(json("x"), "x");
});

// ---- query.js

test("queryString leaves out empty values, repeats arrays and encodes everything", () => {
  assert.equal(queryString({}), "");
  assert.equal(queryString({ a: "", b: null, c: undefined }), "");
  assert.equal(queryString({ q: "a&b=c#d", n: 0, f: false }), "?q=a%26b%3Dc%23d&n=0&f=false");
  assert.equal(queryString({ participant: ["p 1", "", "é"] }), "?participant=p+1&participant=%C3%A9");
});

test("an id in a path stays one segment, whatever it holds", () => {
  assert.equal(segment("a/b?c#d"), "a%2Fb%3Fc%23d");
  assert.equal(segment(".."), "%2E%2E");
  assert.equal(segment("."), "%2E");
  assert.equal(participantUrl("../audit"), "/admin/api/participants/..%2Faudit");
  assert.equal(participantUrl(".."), "/admin/api/participants/%2E%2E");
  assert.equal(recordsUrl("p/1", { kind: "step", limit: 100, before: null }), "/admin/api/participants/p%2F1/records?kind=step&limit=100");
  assert.equal(apiUrl("plots"), "/admin/api/plots");
  assert.equal(auditUrl(50), "/admin/api/audit?limit=50");
});

test("participantsUrl trims the search and drops the first page's offset", () => {
  assert.equal(participantsUrl({ q: "  abc ", status: "", bots: "exclude", limit: 50, offset: 0 }), "/admin/api/participants?q=abc&bots=exclude&limit=50");
  assert.equal(participantsUrl({ q: "x y", condition: "A", limit: 50, offset: 100 }), "/admin/api/participants?q=x+y&condition=A&limit=50&offset=100");
});

test("exportUrl: csv unless a known format, participants repeated", () => {
  assert.equal(exportUrl({}), "/admin/api/export?format=csv");
  assert.equal(exportUrl({ format: "xlsx" }), "/admin/api/export?format=csv");
  assert.equal(
    exportUrl({ format: "parquet", status: "completed", condition: "B", bots: "exclude", excluded: "only" }),
    "/admin/api/export?format=parquet&status=completed&condition=B&bots=exclude&excluded=only",
  );
  assert.equal(exportUrl({ format: "jsonl", participant: [" p1 ", "", "p&2"] }), "/admin/api/export?format=jsonl&participant=p1&participant=p%262");
  assert.equal(exportUrl({ participant: "p1" }), "/admin/api/export?format=csv&participant=p1");
});

test("the hash names a tab or a participant; odd ids survive the round trip", () => {
  const tabs = ["overview", "participants", "games"];
  assert.deepEqual(parseHash("", tabs), { tab: "overview", participantId: null });
  assert.deepEqual(parseHash("#games", tabs), { tab: "games", participantId: null });
  assert.deepEqual(parseHash("#nonsense", tabs), { tab: "overview", participantId: null });
  for (const id of ["p1", "a/b#c?d", "<script>", "%41", "é 1"]) {
    assert.deepEqual(parseHash(participantHash(id), tabs), { tab: "participants", participantId: id });
  }
  assert.deepEqual(parseHash("#participant/%E0%A4%A", tabs), { tab: "participants", participantId: "%E0%A4%A" });
  assert.deepEqual(parseHash("#participant/", tabs), { tab: "participants", participantId: null });
});

// ---- shape.js

test("listOf finds the array in a payload, or gives []", () => {
  assert.deepEqual(listOf([1, 2]), [1, 2]);
  assert.deepEqual(listOf({ participants: [1] }, "items", "participants"), [1]);
  assert.deepEqual(listOf({ participants: "x" }, "participants"), []);
  assert.deepEqual(listOf(null, "x"), []);
});

test("isBot: a flag, else a bot URL parameter", () => {
  assert.equal(isBot({ url_params: { bot: "random" } }), true);
  assert.equal(isBot({ url_params: { PROLIFIC_PID: "x" } }), false);
  assert.equal(isBot({ bot: false, url_params: { bot: "random" } }), false);
  assert.equal(isBot({ is_bot: true }), true);
  assert.equal(isBot(null), false);
});

test("funnelRows: bar widths, share of arrivals, drop-off, people at each scene now", () => {
  const rows = funnelRows(
    [
      { stage: "arrived", label: "Arrived", count: 10 },
      { stage: "consent", label: "consent", count: 8 },
      { stage: "game", count: 5 },
      { stage: "completed", label: "Completed", count: "4" },
    ],
    [{ scene_id: "game", count: 2 }, { scene_id: "consent", count: 0 }],
  );
  assert.deepEqual(
    rows.map((r) => [r.label, r.count, r.width, r.ofFirst, r.drop, r.here]),
    [
      ["Arrived", 10, 1, 1, null, null],
      ["consent", 8, 0.8, 0.8, 2, 0],
      ["game", 5, 0.5, 0.5, 3, 2],
      ["Completed", 0, 0, 0, 5, null],
    ],
  );
  assert.deepEqual(funnelRows(undefined), []);
  const empty = funnelRows([{ stage: "arrived", count: 0 }]);
  assert.equal(empty[0].width, 0);
  assert.equal(empty[0].ofFirst, null);
});

test("conditionRows: completions against the expected balance", () => {
  const rows = conditionRows([
    { condition: "A", assigned: 6, completed: 6, expected_share: 0.5 },
    { condition: "B", assigned: 5, completed: 2, expected_share: 0.5 },
  ]);
  assert.deepEqual(
    rows.map((r) => [r.condition, r.assigned, r.completed, r.expected, r.diff, r.share]),
    [
      ["A", 6, 6, 4, 2, 0.75],
      ["B", 5, 2, 4, -2, 0.25],
    ],
  );
  // Missing shares are equal shares; shares are normalised.
  const equal = conditionRows([{ condition: "A", completed: 0 }, { condition: null }, { condition: "C", completed: 3 }]);
  assert.deepEqual(equal.map((r) => r.condition), ["A", "(none)", "C"]);
  for (const r of equal) assert.ok(Math.abs(r.expectedShare - 1 / 3) < 1e-9);
  assert.equal(equal[0].share, 0);
  const weighted = conditionRows([{ condition: "A", expected_share: 2 }, { condition: "B", expected_share: 1 }]);
  assert.ok(Math.abs(weighted[0].expectedShare - 2 / 3) < 1e-9);
  assert.equal(weighted[0].share, null);
  assert.deepEqual(conditionRows([]), []);
});

test("histogram: equal-width bins holding every value", () => {
  const h = histogram([0, 1, 2, 3, 4, 5, 6, 7, 8, 10, "x", null], 5);
  assert.deepEqual(h.edges, [0, 2, 4, 6, 8, 10]);
  assert.deepEqual(h.counts, [2, 2, 2, 2, 2]);
  assert.equal(h.counts.reduce((a, b) => a + b), 10);
  assert.deepEqual(histogram([3, 3, 3]), { edges: [2.5, 3.5], counts: [3] });
  assert.deepEqual(histogram([]), { edges: [], counts: [] });
  assert.deepEqual(histogram(undefined), { edges: [], counts: [] });
  // Never more bins than values.
  assert.equal(histogram([1, 2], 12).counts.length, 2);
});

test("binLabels: closed bins between edges, an open last bin", () => {
  assert.deepEqual(binLabels([0, 5, 10], 2), ["0–5", "5–10"]);
  assert.deepEqual(binLabels([0, 5, 10], 3), ["0–5", "5–10", "≥ 10"]);
  assert.deepEqual(binLabels([0, 2.25], 1, 2), ["0–2.25"]);
  assert.deepEqual(binLabels(undefined, 2), ["bin 1", "bin 2"]);
});

test("summary: mean, sample sd and quartiles", () => {
  const s = summary([4, 1, 3, 2, 5, "no"]);
  assert.deepEqual(s, { n: 5, mean: 3, sd: Math.sqrt(2.5), min: 1, q1: 2, median: 3, q3: 4, max: 5 });
  assert.deepEqual(summary([7]), { n: 1, mean: 7, sd: 0, min: 7, q1: 7, median: 7, q3: 7, max: 7 });
  assert.equal(summary([]), null);
  assert.equal(summary([1, 2, 3, 4])?.median, 2.5);
});

test("returnGroups: one per condition, per condition and scene when there are several scenes", () => {
  const one = returnGroups([
    { condition: "A", scene_id: "g", returns: [1, 3] },
    { condition: "A", scene_id: "g", returns: [5] },
    { condition: "B", scene_id: "g", returns: [] },
    { condition: null, scene_id: "g", returns: [2] },
  ]);
  assert.deepEqual(one.map((g) => [g.label, g.summary.n, g.summary.mean]), [
    ["A", 3, 3],
    ["(none)", 1, 2],
  ]);
  const two = returnGroups([
    { condition: "A", scene_id: "g1", returns: [1] },
    { condition: "A", scene_id: "g2", returns: [2] },
  ]);
  assert.deepEqual(two.map((g) => g.label), ["A · g1", "A · g2"]);
  assert.deepEqual(returnGroups({}), []);
});

test("surveyBars: scales in order, other answers by count, capped", () => {
  assert.deepEqual(surveyBars({ 3: 1, 1: 4, 2: 0, 10: 2 }), { labels: ["1", "2", "3", "10"], counts: [4, 0, 1, 2] });
  assert.deepEqual(surveyBars({ no: 1, yes: 5, maybe: 1 }), { labels: ["yes", "maybe", "no"], counts: [5, 1, 1] });
  const many = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`answer ${i}`, 20 - i]));
  const capped = surveyBars(many, 5);
  assert.equal(capped.labels.length, 5);
  assert.equal(capped.labels[4], "other (16 answers)");
  assert.equal(capped.counts.reduce((a, b) => a + b), Object.values(many).reduce((a, b) => a + b));
  const long = surveyBars({ ["x".repeat(100)]: 1, "": 2 });
  assert.deepEqual(long.labels, [DASH, `${"x".repeat(29)}…`]);
  assert.deepEqual(surveyBars(null), { labels: [], counts: [] });
});

test("arrivalSeries: sorted, and coarsened to at most maxPoints bars", () => {
  const start = Date.UTC(2024, 0, 1, 12, 0);
  const minutes = Array.from({ length: 10 }, (_, i) => ({ minute: new Date(start + i * 60_000).toISOString(), count: 1 })).reverse();
  const all = arrivalSeries(minutes);
  assert.equal(all.counts.length, 10);
  assert.equal(all.times[0].getTime(), start);
  assert.equal(all.binMinutes, 1);
  const coarse = arrivalSeries(minutes, 4);
  assert.deepEqual(coarse.counts, [3, 3, 3, 1]);
  assert.equal(coarse.binMinutes, 3);
  assert.equal(arrivalSeries(minutes, 4, 5).binMinutes, 15, "the server's bin size, times the bins merged");
  assert.deepEqual(arrivalSeries([{ minute: "bad", count: 3 }]).counts, []);
});

test("timelineItems: oldest first, tracebacks found, stable keys, unknown kinds as events", () => {
  const t0 = Date.UTC(2024, 0, 1, 12, 0);
  const items = timelineItems([
    { t: t0 + 2000, kind: "error", scene_id: "g", label: "ValueError: bad", data: { traceback: "Traceback...\nValueError: bad" } },
    { t: new Date(t0).toISOString(), kind: "scene", scene_id: "consent", label: "started consent", data: {} },
    { t: t0 + 1000, kind: "focus", scene_id: "g", label: "left the tab" },
    { kind: "weird", label: "<b>no time</b>" },
    { t: t0 + 1000, kind: "focus", scene_id: "g", label: "left the tab" },
  ]);
  assert.deepEqual(items.map((i) => i.kind), ["scene", "focus", "focus", "error", "event"]);
  assert.equal(items[0].data, null);
  assert.equal(items[3].traceback, "Traceback...\nValueError: bad");
  assert.equal(items[3].data, null, "the traceback is not repeated in the data");
  const stack = timelineItems([{ kind: "error", data: { stack: "at f (x.js:1)", stage: "step" } }]);
  assert.equal(stack[0].traceback, "at f (x.js:1)");
  assert.deepEqual(stack[0].data, { stage: "step" });
  assert.equal(items[4].label, "<b>no time</b>");
  assert.equal(items[4].time, null);
  assert.notEqual(items[1].key, items[2].key);
  // The same payload gives the same keys (open tracebacks stay open across pushes).
  const again = timelineItems([{ t: t0 + 2000, kind: "error", scene_id: "g", label: "ValueError: bad" }]);
  assert.equal(again[0].key, items[3].key);
  assert.deepEqual(timelineItems("nope"), []);
});

test("liveState: live, stale, disconnected, connecting, expired", () => {
  const base = { connected: true, everConnected: true, expired: false, now: 100_000, staleMs: 15_000 };
  assert.equal(liveState({ ...base, lastPushAt: 95_000 }), "live");
  assert.equal(liveState({ ...base, lastPushAt: 80_000 }), "stale");
  assert.equal(liveState({ ...base, lastPushAt: null }), "stale");
  assert.equal(liveState({ ...base, connected: false, lastPushAt: 99_000 }), "disconnected");
  assert.equal(liveState({ ...base, connected: false, everConnected: false, lastPushAt: null }), "connecting");
  assert.equal(liveState({ ...base, expired: true, lastPushAt: 99_000 }), "expired");
});

// ---- the sources

test("no console module parses text as HTML", () => {
  for (const name of readdirSync(STATIC).filter((n) => n.endsWith(".js"))) {
    const source = readFileSync(new URL(name, STATIC), "utf8");
    for (const sink of ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"]) {
      assert.ok(!source.includes(sink), `${name} uses ${sink}`);
    }
  }
});

test("console.html: no inline script, the CSRF placeholder, the logout field", () => {
  const html = readFileSync(new URL("console.html", STATIC), "utf8");
  for (const tag of html.match(/<script\b[^>]*>/g) ?? []) assert.match(tag, /\ssrc="\/[^"]+"/, tag);
  assert.doesNotMatch(html, /<script\b[^>]*>[^<\s]/, "an inline script");
  assert.doesNotMatch(html, /\son[a-z]+="/, "an inline event handler");
  assert.match(html, /<meta name="ig-csrf" content="\{\{csrf\}\}">/);
  assert.match(html, /<form[^>]*method="post" action="\/admin\/logout"[^>]*>\s*<input type="hidden" name="csrf" value="\{\{csrf\}\}"/);
  // Every data-testid the modules look up with byTestId(...) in the page itself is there.
  for (const name of ["console.js", "overview.js", "participants.js", "games.js", "plots.js", "data.js", "audit.js", "actions.js"]) {
    const source = readFileSync(new URL(name, STATIC), "utf8");
    for (const [, id] of source.matchAll(/byTestId\("([a-z-]+)"/g)) {
      if (html.includes(`data-testid="${id}"`)) continue;
      assert.fail(`${name} looks up data-testid="${id}", which console.html lacks`);
    }
  }
});
