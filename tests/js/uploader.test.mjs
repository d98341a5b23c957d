// @ts-check
// Edge cases of the browser uploader, driven through a scripted socket in Node: answers the
// real server gives (stored, resend, seq conflict, retry later, refusal) and what the uploader
// does with each. The real path (Chromium, server, database) is tested in
// tests/python/test_uploader_browser.py. Run with `node --test tests/js/`.
import assert from "node:assert/strict";
import { test } from "node:test";

import { Uploader } from "../../interactive_gym/server/static/js/data/uploader.js";

/** A socket.io-like socket whose acknowledgements come from `answer(payload)`. */
class ScriptedSocket {
  constructor(answer) {
    this.answer = answer;
    this.connected = true;
    this.active = true;
    this.sent = [];
    this.handlers = {};
  }
  on(event, handler) {
    this.handlers[event] = handler;
  }
  timeout() {
    return {
      emit: (event, payload, callback) => {
        this.sent.push(structuredClone(payload));
        const ack = this.answer(payload, this.sent.length);
        if (ack !== undefined) setTimeout(() => callback(null, ack), 1);
      },
    };
  }
}

/** An uploader on a scripted socket, closed when the test ends (even when it fails). */
function uploader(t, answer, options = {}) {
  const socket = new ScriptedSocket(answer);
  const u = new Uploader({
    token: "t",
    participantId: `p-${Math.random()}`,
    socket,
    persist: false,
    flushIntervalMs: 10,
    retryMinMs: 5,
    retryMaxMs: 20,
    ...options,
  });
  t.after(() => u.close());
  return { u, socket };
}

/** @type {(n: number) => import("../../interactive_gym/server/static/js/data/uploader.js").UploadRecord} */
const step = (n) => ({ kind: "step", scene_id: "g", episode: 0, step: n, data: { a: n } });

test("drain resolves once every record is acknowledged", async (t) => {
  const { u, socket } = uploader(t, (p) => ({ ok: true, seq: p.seq, duplicate: false }));
  for (let i = 0; i < 10; i += 1) u.add(step(i));
  assert.equal(u.pendingUploads, 10);
  await u.drain();
  assert.equal(u.pendingUploads, 0);
  const steps = socket.sent.flatMap((p) => p.records.map((r) => r.step));
  assert.deepEqual(steps, [...Array(10).keys()]);
  assert.ok(socket.sent.every((p) => typeof p.id === "string" && p.id.length === 32));
});

test("a seq held by another chunk is renumbered from next_seq and resent", async (t) => {
  const { u, socket } = uploader(t, (p) =>
    p.seq < 7 ? { ok: false, seq: p.seq, error: "seq taken", retry: false, next_seq: 7 } : { ok: true, seq: p.seq },
  );
  u.add(step(0));
  await u.drain();
  const last = socket.sent.at(-1);
  assert.equal(last.seq, 7);
  assert.equal(last.id, socket.sent[0].id); // the same chunk, under a new number
  assert.deepEqual(last.records, socket.sent[0].records);
  assert.equal(u.nextSeq, 8);
});

test("a retryable refusal is retried with the same seq and id", async (t) => {
  const { u, socket } = uploader(t, (p, n) =>
    n < 3 ? { ok: false, seq: p.seq, error: "storage error", retry: true } : { ok: true, seq: p.seq },
  );
  u.add(step(0));
  await u.drain();
  assert.equal(socket.sent.length, 3);
  assert.ok(socket.sent.every((p) => p.seq === socket.sent[0].seq && p.id === socket.sent[0].id));
});

test("a permanent refusal is reported and makes drain reject, never dropped silently", async (t) => {
  const { u } = uploader(t, (p) => ({ ok: false, seq: p.seq, error: "records[0].data: too big", retry: false }));
  const errors = [];
  u.addEventListener("error", (e) => errors.push(e.detail.reason));
  u.add(step(0));
  await assert.rejects(u.drain(), /records\[0\]\.data: too big/);
  assert.equal(u.rejected.length, 1);
  assert.equal(u.rejected[0].records[0].step, 0);
  assert.deepEqual(errors, ["records[0].data: too big"]);
});

test("no acknowledgement: resent after a reconnect", async (t) => {
  let silent = true;
  const { u, socket } = uploader(t, (p) => (silent ? undefined : { ok: true, seq: p.seq }));
  await u.ready;
  u.add(step(0));
  u.flush();
  assert.equal(socket.sent.length, 1);
  silent = false;
  socket.handlers.connect(); // a reconnection: what was in flight goes out again
  await u.drain();
  assert.equal(socket.sent.length, 2);
  assert.equal(socket.sent[1].id, socket.sent[0].id);
});

test("malformed records are refused at add() with the field named", (t) => {
  const { u } = uploader(t, () => ({ ok: true }));
  assert.throws(() => u.add(/** @type {any} */ ({ kind: "nope", scene_id: "g" })), /record\.kind/);
  assert.throws(() => u.add(/** @type {any} */ ({ kind: "step" })), /record\.scene_id/);
  assert.throws(() => u.add({ kind: "event", scene_id: "g", data: { x: "y".repeat(60_000) } }), /record\.data/);
  assert.equal(u.pendingUploads, 0);
});

test("chunks respect the record and size limits", async (t) => {
  const { u, socket } = uploader(t, (p) => ({ ok: true, seq: p.seq }), { maxChunkRecords: 4 });
  for (let i = 0; i < 10; i += 1) u.add(step(i));
  await u.drain();
  assert.deepEqual(
    socket.sent.map((p) => p.records.length),
    [4, 4, 2],
  );
  assert.deepEqual(
    socket.sent.map((p) => p.seq),
    [0, 1, 2],
  );
});
