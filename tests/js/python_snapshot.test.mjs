// Memory snapshots of the worker's Python (worker/python_snapshot.js, worker/python_start.js):
// the real worker script and real Pyodide in Node worker_threads, each given a folder as its
// Cache API (support/cache_storage.mjs), shared like the pages of one origin share theirs.
// Every boot costs seconds, so the cases share the one snapshot made first (`madeStore`),
// each working on its own copy of that folder.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:http";
import { after, afterEach, before, beforeEach, describe, mock, test } from "node:test";
import { fileURLToPath } from "node:url";

import { PyodideWorker } from "../../interactive_gym/server/static/js/PyodideWorker.js";
import {
  CACHE_NAME, LIMITS, SnapshotProblem, SnapshotStore, pack, unpack,
} from "../../interactive_gym/server/static/js/worker/python_snapshot.js";
import { folderCaches } from "./support/cache_storage.mjs";
import { GAME_EXTENSION, createNodeWorker, nodeRuntime, runtimeSources } from "./support/node_worker.mjs";

/**
 * The package installer's wheel (micropip, from the project's wheelhouse), served over HTTP
 * as the server serves it, so that the worker unpacks it at boot as it does in the browser.
 */
const WHEELHOUSE = fileURLToPath(new URL("../../data/wheelhouse/", import.meta.url));
const MICROPIP = readdirSync(WHEELHOUSE).find((name) => /^micropip-.*\.whl$/.test(name));
assert.ok(MICROPIP, `no micropip wheel in ${WHEELHOUSE}: run bin/setup first`);
const server = createServer((request, response) => {
  if (request.url !== `/${MICROPIP}`) return void response.writeHead(404).end();
  response.writeHead(200, { "content-type": "application/octet-stream" }).end(readFileSync(join(WHEELHOUSE, MICROPIP)));
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(null)));
after(() => server.close());
const MICROPIP_URL = `http://127.0.0.1:${/** @type {import("node:net").AddressInfo} */ (server.address()).port}/${MICROPIP}`;

/** The runtime configuration of every worker here: Node paths, micropip from `server`. */
const runtime = (overrides = {}) => nodeRuntime({ micropipURL: MICROPIP_URL, ...overrides });

/** Folders made here, removed at the end. */
const folders = [];

/** A new empty folder. */
function freshFolder() {
  const dir = mkdtempSync(join(tmpdir(), "ig-snapshots-"));
  folders.push(dir);
  return dir;
}

/** A new folder holding a copy of `dir` (another browser with the same stored snapshots). */
function copyFolder(dir) {
  const copy = freshFolder();
  cpSync(dir, copy, { recursive: true });
  return copy;
}

/** Every file under `dir`, relative, sorted. */
function filesIn(dir) {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((name) => statSync(join(dir, name)).isFile())
    .sort();
}

/** The stored snapshots in a folder, by their `.body` files. */
function storedBodies(dir) {
  return filesIn(dir).filter((name) => name.endsWith(".body")).map((name) => join(dir, name));
}

/** The SHA-256 of a file. @param {string} path */
const digest = (path) => createHash("sha256").update(readFileSync(path)).digest("hex");

/** The one stored snapshot in a folder. */
function onlyBody(dir) {
  const bodies = storedBodies(dir);
  assert.equal(bodies.length, 1, `one stored snapshot in ${dir}: ${bodies}`);
  return bodies[0];
}

/**
 * A PyodideWorker on a worker thread whose Cache API is `cacheDir` (none when null).
 * @param {string | null} cacheDir  @param {{snapshots?: boolean}} [initOptions]
 * @param {Record<string, any>} [config]
 */
async function start(cacheDir, initOptions, config = runtime()) {
  /** @type {string[]} */ const stages = [];
  const worker = new PyodideWorker({
    createWorker: (url) => createNodeWorker(url, cacheDir === null ? {} : { cacheDir }),
    runtime: config,
    onProgress: (p) => stages.push(p.stage),
    timeoutMs: 10000,
  });
  const info = initOptions === undefined ? await worker.init() : await worker.init(initOptions);
  return { worker, info, load: info.load, stages };
}

/**
 * `worker.snapshotSaved`, or a failure when it does not settle within 60 s (instead of a
 * test run that never ends). @param {PyodideWorker} worker
 */
function snapshotSaved(worker) {
  /** @type {any} */ let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error("snapshotSaved did not settle within 60 s")), 60_000);
  });
  return Promise.race([worker.snapshotSaved, late]).finally(() => clearTimeout(timer));
}

/** An env whose every reply depends on its seed (a random walk with noise). */
const WALK_ENV = `
import random

class Walk:
    possible_agents = [0, 1]
    num_actions = 3

    def reset(self, seed=None, options=None):
        self.rng = random.Random(seed)
        self.pos = [self.rng.randint(0, 9), self.rng.randint(0, 9)]
        self.t = 0
        return {0: list(self.pos), 1: list(self.pos)}, {"seed": seed}

    def step(self, actions):
        noise = self.rng.random()
        self.t += 1
        self.pos[0] += actions[0] - 1
        self.pos[1] += actions[1] - 1
        obs = {a: [*self.pos, noise] for a in (0, 1)}
        return obs, {0: noise, 1: -noise}, {"__all__": False}, {"__all__": False}, {"t": self.t}

    def render(self):
        return [{"id": "p", "type": "circle", "x": self.pos[0] / 10, "y": self.pos[1] / 10, "radius": 0.05}]

    def get_state(self):
        return {"pos": list(self.pos), "t": self.t, "rng": list(self.rng.getstate()[1][:4])}

    def set_state(self, state):
        self.pos = list(state["pos"])
        self.t = state["t"]


def hud(env):
    return f"t={env.t} at {env.pos}"


def make_env(**config):
    return Walk()
`;

const POLICY = `
def policy(observation, agent_id):
    return int(sum(observation) * 1000) % 3
`;

/** Drop what is measured rather than computed (`policyMs`, `envMs`, ...): replies compared as data. */
function computed(value) {
  if (Array.isArray(value)) return value.map(computed);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).filter(([k]) => !k.endsWith("Ms")).map(([k, v]) => [k, computed(v)]));
  }
  return value;
}

/**
 * Play the seeded env, then a game on it through the game extension (whose operations the
 * runtime's handler registers in a module global): every reply, as data.
 * @param {PyodideWorker} worker
 */
async function play(worker) {
  const replies = [];
  await worker.initEnv({ code: WALK_ENV });
  replies.push(await worker.reset({ seed: 11 }));
  for (const actions of [{ 0: 2, 1: 0 }, { 0: 1, 1: 1 }, { 0: 0, 1: 2 }, { 0: 2, 1: 2 }]) {
    replies.push(await worker.step(actions, { render: true }));
  }
  replies.push(await worker.getState());
  const { operations } = await worker.loadExtension(GAME_EXTENSION);
  replies.push(operations);
  replies.push(await worker.call("setupGame", {
    agents: { 0: { kind: "random" }, 1: { kind: "python", code: POLICY, filename: "policy.py", function: "policy" } },
    hud_function: "hud",
    max_steps: 6,
    record_observations: true,
  }));
  replies.push(await worker.call("startEpisode", { seed: 3 }));
  for (let i = 0; i < 6; i++) replies.push(await worker.call("tick", { actions: {} }));
  return computed(replies);
}

/** What every play must show, whatever started Python. @param {any[]} played */
function assertPlayed(played) {
  assert.deepEqual(played[0].info, { seed: 11 });
  assert.equal(played[4].info.t, 4);
  assert.deepEqual(played[6], ["onnxObservations", "setupGame", "startEpisode", "tick"]);
  assert.equal(played.at(-1).done, true, "the game ran to max_steps");
  assert.ok(new Set(played.slice(-6).map((r) => r.actions[0])).size > 1, "the random agent drew actions");
}

/**
 * The value of a Python expression on the worker (evaluated by an env's reset).
 * @param {PyodideWorker} worker  @param {string} expression
 */
async function pythonValue(worker, expression) {
  await worker.initEnv({
    code: `class E:\n    def reset(self, seed=None, options=None):\n        return (${expression}), {}\n    def step(self, a):\n        return 0, 0.0, False, False, {}\nenv = E()\n`,
  });
  return (await worker.reset({})).observation;
}

/** The text of a file in the worker's Python file system. @param {PyodideWorker} worker  @param {string} path */
const pythonFile = (worker, path) => pythonValue(worker, `__import__("pathlib").Path(${JSON.stringify(path)}).read_text()`);

/**
 * The first snapshot: a worker booted with snapshots on in an empty folder, which plays the
 * seeded env while its snapshot is stored in the background. Made once; the other cases copy
 * its folder.
 * @type {Promise<{dir: string, worker: PyodideWorker, load: any, stages: string[], played: any[], saved: any}> | null}
 */
let made = null;
function madeStore() {
  made ??= (async () => {
    const dir = freshFolder();
    const started = await start(dir, { snapshots: true });
    try {
      const [played, saved] = await Promise.all([play(started.worker), snapshotSaved(started.worker)]);
      return { dir, ...started, played, saved };
    } catch (error) {
      started.worker.destroy();
      throw error;
    }
  })();
  return made;
}

after(async () => {
  (await made?.catch(() => null))?.worker.destroy();
  for (const dir of folders) rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
});

describe("snapshots on, an empty store: the first load boots, the next restores", () => {
  /** @type {Awaited<ReturnType<typeof start>>} */ let restored;
  /** @type {Awaited<ReturnType<typeof madeStore>>} */ let first;
  before(async () => {
    first = await madeStore();
  });
  after(() => restored?.worker.destroy());

  test("the first load boots Python and takes a snapshot", () => {
    assert.equal(first.load.kind, "boot");
    assert.equal(first.load.snapshot, "made");
    assert.equal(first.load.problem, undefined);
    assert.ok(first.load.ms > 0);
    assert.ok(first.stages.includes("python") && !first.stages.includes("restoring"), first.stages.join(" "));
    assert.ok(first.stages.includes("installer"), first.stages.join(" "));
  });

  test("the snapshot is stored in the background while the booted worker plays", () => {
    assertPlayed(first.played);
    assert.equal(first.saved.stored, true, JSON.stringify(first.saved));
    assert.ok(/** @type {number} */ (first.saved.bytes) > 10e6, `a whole Python: ${first.saved.bytes} bytes`);
    assert.equal(statSync(onlyBody(first.dir)).size, first.saved.bytes);
  });

  test("a second worker on the same store restores instead of booting", async () => {
    restored = await start(first.dir, { snapshots: true });
    assert.equal(restored.load.kind, "restore");
    assert.equal(restored.load.snapshot, "restored");
    assert.equal(restored.load.problem, undefined);
    assert.ok(restored.stages.includes("restoring"), restored.stages.join(" "));
    assert.ok(!restored.stages.includes("python"), `a restore does not boot: ${restored.stages.join(" ")}`);
    assert.equal(restored.stages.at(-1), "ready");
    assert.match(restored.info.pythonVersion, /^3\.\d+\./);
    assert.deepEqual(await snapshotSaved(restored.worker), { stored: false }, "a restore takes no new snapshot");
    assert.equal(storedBodies(first.dir).length, 1);
  });

  test("the restored worker plays the seeded env and the game exactly as the booted one did", async () => {
    assert.ok(restored, "needs the restored worker");
    const played = await play(restored.worker);
    assertPlayed(played);
    assert.deepEqual(played, first.played);
  });

  test("the runtime package's files are back on the restored worker", async () => {
    assert.ok(restored, "needs the restored worker");
    const handler = await pythonFile(restored.worker, "/home/pyodide/interactive_gym/runtime/handler.py");
    assert.equal(handler, runtimeSources()["handler.py"]);
  });

  test("the package installer is importable on the restored worker (for installPackages)", async () => {
    assert.ok(restored, "needs the restored worker");
    assert.equal(await pythonValue(restored.worker, '__import__("micropip").__name__'), "micropip");
  });

  test("unseeded randomness differs between two restores of one snapshot", async () => {
    const draw = async () => {
      const { worker } = await start(first.dir, { snapshots: true });
      try {
        return await pythonValue(worker, '__import__("random").random()');
      } finally {
        worker.destroy();
      }
    };
    assert.notEqual(await draw(), await draw());
  });
});

describe("a changed runtime module", () => {
  test("boots with a new key beside the stored snapshot; each configuration then restores its own", async () => {
    const dir = copyFolder((await madeStore()).dir);
    const sources = runtimeSources();
    const changedRuntime = () => runtime({ runtimeSources: { ...sources, "plain.py": `${sources["plain.py"]}\n# changed\n` } });
    const plainPath = "/home/pyodide/interactive_gym/runtime/plain.py";

    const changed = await start(dir, { snapshots: true }, changedRuntime());
    try {
      assert.equal(changed.load.kind, "boot");
      assert.equal(changed.load.snapshot, "made");
      assert.equal(changed.load.problem, undefined, "another key is not a problem");
      assert.equal((await snapshotSaved(changed.worker)).stored, true);
    } finally {
      changed.worker.destroy();
    }
    assert.equal(storedBodies(dir).length, 2);

    const original = await start(dir, { snapshots: true });
    try {
      assert.equal(original.load.kind, "restore");
      assert.ok(!(await pythonFile(original.worker, plainPath)).includes("# changed"));
    } finally {
      original.worker.destroy();
    }
    const changedAgain = await start(dir, { snapshots: true }, changedRuntime());
    try {
      assert.equal(changedAgain.load.kind, "restore");
      assert.ok((await pythonFile(changedAgain.worker, plainPath)).endsWith("# changed\n"));
    } finally {
      changedAgain.worker.destroy();
    }
    assert.equal(storedBodies(dir).length, 2);
  });
});

describe("a stored snapshot that does not check out", () => {
  const damages = [
    {
      how: "bytes flipped in its middle",
      damage: (/** @type {string} */ body) => {
        const bytes = readFileSync(body);
        const middle = Math.floor(bytes.length / 2);
        for (let i = middle; i < middle + 64; i++) bytes[i] ^= 0xff;
        writeFileSync(body, bytes);
      },
      problem: /SnapshotProblem: .*SHA-256/,
    },
    {
      how: "truncated",
      damage: (/** @type {string} */ body) => truncateSync(body, Math.floor(statSync(body).size / 2)),
      problem: /SnapshotProblem: the stored snapshot has \d+ bytes, its header describes \d+/,
    },
  ];
  for (const { how, damage, problem } of damages) {
    test(`${how}: boots, says why, plays, and a fresh snapshot replaces it`, async () => {
      const first = await madeStore();
      const dir = copyFolder(first.dir);
      const body = onlyBody(dir);
      damage(body);
      const damaged = digest(body);

      const booted = await start(dir, { snapshots: true });
      try {
        assert.equal(booted.load.kind, "boot");
        assert.equal(booted.load.snapshot, "made");
        assert.match(booted.load.problem ?? "", problem);
        assert.ok(booted.stages.includes("python"), booted.stages.join(" "));
        assert.deepEqual(await play(booted.worker), first.played);
        const saved = await snapshotSaved(booted.worker);
        assert.equal(saved.stored, true, JSON.stringify(saved));
        assert.equal(onlyBody(dir), body, "stored under the same key");
        assert.equal(statSync(body).size, saved.bytes);
        assert.notEqual(digest(body), damaged, "the damaged snapshot was replaced");
      } finally {
        booted.worker.destroy();
      }

      const next = await start(dir, { snapshots: true });
      try {
        assert.equal(next.load.kind, "restore");
        assert.equal(next.load.problem, undefined);
      } finally {
        next.worker.destroy();
      }
    });
  }
});

describe("no snapshot", () => {
  test("snapshots off (the default): boots although the store holds one, and writes nothing", async () => {
    const dir = copyFolder((await madeStore()).dir);
    const before = filesIn(dir).map((name) => [name, statSync(join(dir, name)).mtimeMs]);
    const { worker, load, stages } = await start(dir);
    try {
      assert.equal(load.kind, "boot");
      assert.equal(load.snapshot, "off");
      assert.equal(load.problem, undefined);
      assert.ok(stages.includes("python"), stages.join(" "));
      assert.deepEqual(await snapshotSaved(worker), { stored: false });
      await worker.initEnv({ code: WALK_ENV });
      assert.deepEqual((await worker.reset({ seed: 11 })).info, { seed: 11 });
    } finally {
      worker.destroy();
    }
    assert.deepEqual(filesIn(dir).map((name) => [name, statSync(join(dir, name)).mtimeMs]), before);
  });

  test("snapshots on but no Cache API: boots, the load says unavailable", async () => {
    const { worker, load, stages } = await start(null, { snapshots: true });
    try {
      assert.equal(load.kind, "boot");
      assert.equal(load.snapshot, "unavailable");
      assert.equal(load.problem, undefined);
      assert.ok(stages.includes("python"), stages.join(" "));
      assert.deepEqual(await snapshotSaved(worker), { stored: false });
      await worker.initEnv({ code: WALK_ENV });
      await worker.reset({ seed: 1 });
      assert.equal((await worker.step({ 0: 1, 1: 1 })).info.t, 1);
    } finally {
      worker.destroy();
    }
  });

  test("Python holding a JavaScript object: init succeeds, no snapshot, the problem named", async () => {
    const dir = freshFolder();
    const holdsJs = runtime({ runtimeSources: { ...runtimeSources(), "holds_js.py": "import js\n\nHELD = js.Object.new()\n" } });
    const { worker, load } = await start(dir, { snapshots: true }, holdsJs);
    try {
      assert.equal(load.kind, "boot");
      assert.equal(load.snapshot, "failed");
      assert.match(load.problem ?? "", /no snapshot was taken: SnapshotProblem: Python holds a JavaScript object/);
      assert.deepEqual(await snapshotSaved(worker), { stored: false });
      await worker.initEnv({ code: WALK_ENV });
      assert.deepEqual((await worker.reset({ seed: 2 })).info, { seed: 2 });
    } finally {
      worker.destroy();
    }
    assert.deepEqual(filesIn(dir), [], "nothing stored");
  });
});

describe("the memory's layout", () => {
  test("pages of zeros are left out, and unpacking puts every byte back", () => {
    for (const length of [0, 3, 4096, 4097, 5 * 4096, 5 * 4096 + 6]) {
      const memory = new Uint8Array(length).map((_, i) => (i % 250) + 1);
      memory.fill(0, 4096, 3 * 4096); // pages 1 and 2: zeros
      if (length > 4 * 4096) memory.fill(0, 4 * 4096 + 1, 5 * 4096); // page 4: one byte is not
      const packed = pack(memory);
      const zeroPages = length > 3 * 4096 ? 2 : length > 4096 ? 1 : 0;
      assert.equal(packed.pages.length, (Math.ceil(length / 4096) - zeroPages) * 4096, `length ${length}`);
      assert.deepEqual(unpack(packed, length), memory);
    }
  });

  test("runs that do not fit the memory or the pages are a SnapshotProblem", () => {
    const packed = pack(new Uint8Array(3 * 4096).fill(1));
    assert.deepEqual(packed.runs, [[0, 3]]);
    for (const runs of [[[0, 4]], [[2, 2]], [[-1, 1]], [[0, 2]], [[0.5, 1]]]) {
      assert.throws(() => unpack({ runs: /** @type {[number, number][]} */ (runs), pages: packed.pages }, 3 * 4096),
        (/** @type {any} */ error) => error instanceof SnapshotProblem, JSON.stringify(runs));
    }
  });
});

describe("SnapshotStore", () => {
  /** @type {string} */ let dir;
  /** @type {any} */ const scope = globalThis;
  const navigator = Object.getOwnPropertyDescriptor(globalThis, "navigator");
  let now = 1000;
  /** Pretend the browser's storage estimate is `estimate`. @param {object} estimate */
  const storageEstimate = (estimate) =>
    Object.defineProperty(globalThis, "navigator", { value: { storage: { estimate: async () => estimate } }, configurable: true });
  beforeEach(() => {
    dir = freshFolder();
    scope.caches = folderCaches(dir);
    mock.method(Date, "now", () => (now += 1000));
  });
  afterEach(() => {
    delete scope.caches;
    if (navigator) Object.defineProperty(globalThis, "navigator", navigator);
    else delete scope.navigator;
    mock.restoreAll();
  });

  /** A small fake snapshot whose bytes all say `n`. @param {number} n */
  const fake = (n, size = 1000) => ({
    memory: new Uint8Array(size).fill(n),
    files: [{ path: "/lib/a.py", data: new TextEncoder().encode(`A = ${n}\n`) }, { path: "/lib/b/c.txt", data: new Uint8Array([n, 0, n]) }],
  });

  test("is available only where there is a Cache API", () => {
    assert.equal(SnapshotStore.available, true);
    delete scope.caches;
    assert.equal(SnapshotStore.available, false);
  });

  test("reads back what it wrote; a key never written reads as null", async () => {
    const store = new SnapshotStore();
    const bytes = await store.write("k1", fake(7));
    const read = await store.read("k1");
    assert.ok(read);
    assert.deepEqual(read.memory, fake(7).memory);
    assert.deepEqual(read.files, fake(7).files);
    assert.equal(bytes, (await store.entries())[0].bytes);
    assert.equal(await store.read("k2"), null);
    await store.drop("k1");
    assert.equal(await store.read("k1"), null);
  });

  test("entries() lists the newest first", async () => {
    const store = new SnapshotStore();
    for (const key of ["b", "c", "a"]) await store.write(key, fake(1));
    assert.deepEqual((await store.entries()).map((e) => e.url), ["a", "c", "b"].map((key) => store.url(key)));
    const created = (await store.entries()).map((e) => e.created);
    assert.deepEqual(created, [...created].sort((x, y) => y - x));
  });

  test(`keeps the newest ${LIMITS.entries} snapshots, evicting the oldest`, async () => {
    const store = new SnapshotStore();
    const keys = Array.from({ length: LIMITS.entries + 2 }, (_, i) => `key${i}`);
    for (const [i, key] of keys.entries()) await store.write(key, fake(i));
    assert.deepEqual((await store.entries()).map((e) => e.url), keys.slice(-LIMITS.entries).reverse().map((key) => store.url(key)));
    assert.equal(await store.read(keys[0]), null);
    assert.equal(await store.read(keys[1]), null);
    assert.deepEqual((await store.read(keys[keys.length - 1]))?.memory, fake(keys.length - 1).memory);
  });

  test("keeps the newest within totalBytes; the one just stored always stays", async () => {
    // Memory is stored in pages of 4096 bytes: each of these takes one page, "big" three.
    const store = new SnapshotStore({ limits: { entries: 10, bytes: 20_000, totalBytes: 10_000 } });
    await store.write("old", fake(1, 4000));
    await store.write("mid", fake(2, 4000));
    await store.write("new", fake(3, 4000));
    assert.deepEqual((await store.entries()).map((e) => e.url), [store.url("new"), store.url("mid")]);
    await store.write("big", fake(4, 12_000));
    assert.deepEqual((await store.entries()).map((e) => e.url), [store.url("big")]);
  });

  test("refuses a snapshot larger than limits.bytes, storing nothing", async () => {
    const store = new SnapshotStore({ limits: { ...LIMITS, bytes: 6000 } });
    await assert.rejects(store.write("k", fake(1, 5000)), (/** @type {any} */ error) => {
      assert.ok(error instanceof SnapshotProblem);
      assert.match(error.message, /more than the 6000 kept/);
      return true;
    });
    await store.write("small", fake(1, 1000));
    assert.deepEqual((await store.entries()).map((e) => e.url), [store.url("small")]);
  });

  test("refuses a snapshot the browser's storage quota has no room for", async () => {
    storageEstimate({ quota: 10_000, usage: 9_000 });
    const store = new SnapshotStore();
    await assert.rejects(store.write("k", fake(1, 1000)), (/** @type {any} */ error) => error instanceof SnapshotProblem && /no room/.test(error.message));
    assert.deepEqual(await store.entries(), []);
    storageEstimate({ quota: 1e9, usage: 9_000 });
    await store.write("k", fake(1, 1000));
  });

  /** Store `fake(5)` under `key`, then put `change(bytes)` back as what is stored there. */
  async function alterStored(/** @type {SnapshotStore} */ store, /** @type {string} */ key, change) {
    await store.write(key, fake(5));
    const cache = await scope.caches.open(CACHE_NAME);
    const bytes = new Uint8Array(await (await cache.match(store.url(key))).arrayBuffer());
    await cache.put(store.url(key), new Response(change(bytes)));
  }

  test("a stored snapshot whose header has another key is a SnapshotProblem", async () => {
    const store = new SnapshotStore();
    await store.write("mine", fake(5));
    const cache = await scope.caches.open(CACHE_NAME);
    await cache.put(store.url("other"), await cache.match(store.url("mine")));
    await assert.rejects(store.read("other"), (/** @type {any} */ error) => {
      assert.ok(error instanceof SnapshotProblem);
      assert.match(error.message, /key mine/);
      return true;
    });
    assert.ok(await store.read("mine"));
  });

  test("altered bytes anywhere are a SnapshotProblem", async () => {
    const store = new SnapshotStore();
    /** @type {[(bytes: Uint8Array) => Uint8Array, RegExp][]} */
    const cases = [
      [(b) => { b[0] ^= 1; return b; }, /does not start as a snapshot does/],
      [(b) => { b[9] ^= 0x40; return b; }, /header length \d+ is impossible/],
      [(b) => { b[13] = 0x7b; return b; }, /header is not JSON/],
      [(b) => { b[b.length - 2] ^= 1; return b; }, /do not match its SHA-256/],
      [(b) => { b[b.length - 600] ^= 1; return b; }, /do not match its SHA-256/],
      [(b) => b.subarray(0, b.length - 1), /has \d+ bytes, its header describes \d+/],
      [(b) => { const longer = new Uint8Array(b.length + 1); longer.set(b); return longer; }, /has \d+ bytes, its header describes \d+/],
      [(b) => b.subarray(0, 5), /does not start as a snapshot does/],
    ];
    for (const [i, [change, message]] of cases.entries()) {
      const key = `case${i}`;
      await alterStored(store, key, change);
      await assert.rejects(store.read(key), (/** @type {any} */ error) => {
        assert.ok(error instanceof SnapshotProblem, `${key}: ${error}`);
        assert.match(error.message, message, key);
        return true;
      });
    }
  });
});
