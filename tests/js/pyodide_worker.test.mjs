// Protocol tests of the Pyodide worker: the real worker script and real Pyodide, run in a
// Node worker_thread. Run with `node --test tests/js/`.
//
// The suites that need a started worker run twice: on a worker that booted Python (snapshots
// off, the default) and on one restored from a memory snapshot (`init({snapshots: true})` on a
// store that holds the snapshot of this configuration, filled once by `storedSnapshot`).
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { pathToFileURL } from "node:url";

import { PyodideWorker } from "../../interactive_gym/server/static/js/PyodideWorker.js";
import { createNodeWorker, nodeRuntime } from "./support/node_worker.mjs";

const SUPPORT = new URL("./support/", import.meta.url);

/** Python modules for the extension tests, written into the worker's file system. */
const MODULES = {
  echo_ops: "def _echo(host, args):\n    return dict(args)\n\nOPERATIONS = {'echo': _echo}\n",
  steals_step: "OPERATIONS = {'step': lambda host, args: None}\n",
};
const WRITE_MODULES = `
import importlib, pathlib
for _name, _source in MODULES.items():
    pathlib.Path(f"/home/pyodide/{_name}.py").write_text(_source)
importlib.invalidate_caches()
`;

const ECHO_ENV = `
class EchoEnv:
    possible_agents = [0, 1]

    def __init__(self, scale=1):
        self.scale = scale
        self.t = 0

    def reset(self, seed=None, options=None):
        self.t = 0
        return {0: (seed, None), 1: {"nested": [1, (2, 3)]}}, {"seed": seed, "options": options}

    def step(self, actions):
        if not all(type(k) is int for k in actions):
            raise TypeError(f"agent keys must be int, got {[type(k).__name__ for k in actions]}")
        if actions.get(0) == "boom":
            raise ValueError("x")
        if actions.get(0) == "spin":
            while True:
                pass
        if actions.get(0) == "slow":
            import time
            started = time.monotonic()
            while time.monotonic() - started < 0.8:
                pass
        self.t += 1
        obs = {a: (self.t, actions[a]) for a in actions}
        rewards = {a: self.scale * self.t for a in actions}
        return obs, rewards, {"__all__": False}, {"__all__": None}, {"t": self.t}

    def render(self):
        return [{"id": "ball", "type": "circle", "x": self.t / 100, "y": 0.5, "radius": 0.02}]

    def get_state(self):
        return {"t": self.t}

    def set_state(self, state):
        self.t = state["t"]

def make_env(**config):
    return EchoEnv(**config)
`;

/** @typedef {"boot" | "restore"} Mode */
/** @type {Mode[]} */
const MODES = ["boot", "restore"];

/** The Cache API folder of the restored workers. */
const STORE = mkdtempSync(join(tmpdir(), "ig-worker-snapshots-"));
after(() => rmSync(STORE, { recursive: true, force: true }));

/** @type {Promise<void> | null} */ let stored = null;
/** Fill `STORE` once: boot a worker with snapshots on and wait until its snapshot is stored. */
function storedSnapshot() {
  stored ??= (async () => {
    const worker = new PyodideWorker({ createWorker: (url) => createNodeWorker(url, { cacheDir: STORE }), runtime: nodeRuntime() });
    try {
      const { load } = await worker.init({ snapshots: true });
      assert.equal(load.snapshot, "made", JSON.stringify(load));
      const saved = await Promise.race([
        worker.snapshotSaved,
        new Promise((_, reject) => setTimeout(() => reject(new Error("snapshotSaved did not settle within 60 s")), 60_000).unref()),
      ]);
      assert.equal(saved.stored, true, JSON.stringify(saved));
    } finally {
      worker.destroy();
    }
  })();
  return stored;
}

/**
 * A started worker: booted (snapshots off) or restored from `STORE`, checked to be so.
 * @param {Record<string, any>} [options]  @param {Mode} [mode]
 */
async function startWorker(options = {}, mode = "boot") {
  if (mode === "restore") await storedSnapshot();
  const progress = [];
  const worker = new PyodideWorker({
    createWorker: (url) => createNodeWorker(url, mode === "restore" ? { cacheDir: STORE } : {}),
    runtime: nodeRuntime(),
    onProgress: (p) => progress.push(p),
    timeoutMs: 5000,
    ...options,
  });
  const info = await (mode === "restore" ? worker.init({ snapshots: true }) : worker.init());
  assert.equal(info.load.kind, mode, JSON.stringify(info.load));
  assert.equal(info.load.snapshot, mode === "restore" ? "restored" : "off");
  return { worker, progress, info };
}

for (const mode of MODES) {
  describe(`a ready worker with an env (${mode})`, () => {
    /** @type {PyodideWorker} */ let worker;
    let progress;
    let info;

    before(async () => {
      ({ worker, progress, info } = await startWorker({}, mode));
      await worker.initEnv({ code: ECHO_ENV, config: { scale: 2 } });
    });
    after(() => worker.destroy());

    test("init reports progress stages and resolves at READY", () => {
      assert.match(info.pythonVersion, /^3\.14\./);
      const stages = progress.map((p) => p.stage);
      assert.deepEqual(stages.slice(0, 2), ["runtime", mode === "restore" ? "restoring" : "python"]);
      assert.equal(stages.includes("python"), mode === "boot");
      assert.equal(stages.at(-1), "ready");
      assert.equal(typeof info.load.ms, "number");
      assert.ok(worker.ready);
    });

    test("reset converts tuples, None and nested values to plain data", async () => {
      const { observation, info: resetInfo } = await worker.reset({ seed: 7 });
      assert.deepEqual(observation, { 0: [7, null], 1: { nested: [1, [2, 3]] } });
      assert.deepEqual(resetInfo, { seed: 7, options: null });
    });

    test("object keys reach the env as int agent ids, Map keys too", async () => {
      await worker.reset({ seed: 1 });
      const fromObject = await worker.step({ 0: 5, 1: 6 });
      assert.deepEqual(fromObject.observation, { 0: [1, 5], 1: [1, 6] });
      assert.deepEqual(fromObject.reward, { 0: 2, 1: 2 });
      const fromMap = await worker.step(new Map([[0, 1], [1, 2]]));
      assert.deepEqual(fromMap.observation, { 0: [2, 1], 1: [2, 2] });
      assert.deepEqual(fromMap.terminated, { __all__: false });
      assert.deepEqual(fromMap.truncated, { __all__: null });
    });

    test("step returns the render output in the same reply, with timing", async () => {
      await worker.reset({});
      const result = await worker.step({ 0: 0, 1: 0 }, { render: true });
      assert.deepEqual(result.render, [
        { id: "ball", type: "circle", x: 0.01, y: 0.5, radius: 0.02 },
      ]);
      assert.equal(typeof result.timing.workerMs, "number");
      assert.equal(typeof result.timing.envMs, "number");
      assert.ok(result.timing.roundTripMs >= result.timing.workerMs);
      assert.ok(!("timing" in { ...result }), "timing must not be an enumerable field");
    });

    test("many requests in flight are correlated by id", async () => {
      await worker.reset({});
      const calls = Array.from({ length: 200 }, (_, i) => worker.step({ 0: i, 1: 1000 + i }));
      const results = await Promise.all(calls);
      results.forEach((r, i) => {
        assert.deepEqual(r.observation, { 0: [i + 1, i], 1: [i + 1, 1000 + i] });
      });
    });

    test("a Python exception rejects with its type, message and traceback; the worker goes on", async () => {
      await worker.reset({});
      await assert.rejects(worker.step({ 0: "boom", 1: 0 }), (/** @type {any} */ error) => {
        assert.equal(error.name, "ValueError");
        assert.equal(error.message, "x");
        assert.equal(error.pythonType, "ValueError");
        assert.match(error.traceback, /ValueError: x/);
        assert.match(error.traceback, /in step/);
        return true;
      });
      const after = await worker.step({ 0: 1, 1: 1 });
      assert.deepEqual(after.observation, { 0: [1, 1], 1: [1, 1] });
    });

    test("getState/setState round trip", async () => {
      await worker.reset({});
      await worker.step({ 0: 0, 1: 0 });
      const state = await worker.getState();
      assert.deepEqual({ ...state }, { t: 1 });
      await worker.step({ 0: 0, 1: 0 });
      await worker.setState(state);
      const again = await worker.step({ 0: 0, 1: 0 });
      assert.equal(again.info.t, 2);
    });

    test("batch runs setState + steps + getState in one round trip", async () => {
      const results = await worker.batch([
        { op: "setState", args: { t: 10 } },
        { op: "step", args: { 0: 1, 1: 1 } },
        { op: "step", args: { actions: { 0: 1, 1: 1 }, render: true } },
        { op: "getState" },
      ]);
      assert.equal(results.length, 4);
      assert.equal(results[0], null);
      assert.equal(results[1].info.t, 11);
      assert.equal(results[2].render[0].x, 0.12);
      assert.deepEqual(results[3], { t: 12 });
    });

    test("batch stops at the first error and names the failing operation", async () => {
      await worker.setState({ t: 0 });
      await assert.rejects(
        worker.batch([
          { op: "step", args: { 0: 1, 1: 1 } },
          { op: "step", args: { 0: "boom", 1: 1 } },
          { op: "step", args: { 0: 1, 1: 1 } },
        ]),
        (/** @type {any} */ error) => {
          assert.equal(error.name, "ValueError");
          assert.equal(error.opIndex, 1);
          assert.equal(error.op, "step");
          assert.equal(error.results.length, 1);
          return true;
        },
      );
      const state = await worker.getState();
      assert.deepEqual({ ...state }, { t: 1 }, "the third step must not have run");
    });

    test("an unknown batch operation is refused by name", async () => {
      await assert.rejects(worker.batch([{ op: "explode" }]), /batch operation 0 is 'explode'/);
    });

    test("a runaway step is interrupted at its timeout and the env survives", async () => {
      await worker.setState({ t: 40 });
      await assert.rejects(worker.step({ 0: "spin", 1: 0 }, { timeoutMs: 300 }), (/** @type {any} */ error) => {
        assert.equal(error.name, "TimeoutError");
        assert.match(error.message, /interrupted/);
        return true;
      });
      const next = await worker.step({ 0: 1, 1: 1 });
      assert.equal(next.info.t, 41, "the env keeps its state after the interrupt");
      assert.ok(worker.ready);
    });

    test("a runaway step that timed out while queued is interrupted when it starts", async () => {
      await worker.setState({ t: 50 });
      const slow = worker.step({ 0: "slow", 1: 0 }, { timeoutMs: 5000 });
      const queued = worker.step({ 0: "spin", 1: 0 }, { timeoutMs: 200 });
      await assert.rejects(queued, /still queued/);
      assert.equal((await slow).info.t, 51);
      const next = await worker.step({ 0: 1, 1: 1 });
      assert.equal(next.info.t, 52, "the queued runaway was stopped and the env kept");
      assert.ok(worker.ready);
    });
  });

  describe(`a started worker (${mode})`, () => {
    test("destroy rejects requests still pending", async () => {
      const { worker } = await startWorker({}, mode);
      await worker.initEnv({ code: ECHO_ENV });
      await worker.reset({});
      const pending = worker.step({ 0: "spin", 1: 0 }, { timeoutMs: 60000 });
      worker.destroy();
      await assert.rejects(pending, /destroyed/);
    });

    test("messages sent before READY are queued and run in order", async () => {
      if (mode === "restore") await storedSnapshot();
      const raw = createNodeWorker(undefined, mode === "restore" ? { cacheDir: STORE } : {});
      const replies = [];
      const done = /** @type {Promise<void>} */ (new Promise((resolve) => {
        raw.onmessage = ({ data }) => {
          if (data.type === "progress" || data.type === "log") return;
          replies.push(data);
          if (replies.length === 4) resolve();
        };
      }));
      raw.postMessage({ type: "init", id: 1, payload: { ...nodeRuntime(), snapshots: mode === "restore" } });
      raw.postMessage({ type: "initEnv", id: 2, payload: { code: ECHO_ENV } });
      raw.postMessage({ type: "reset", id: 3, payload: { seed: 3 } });
      raw.postMessage({ type: "step", id: 4, payload: { actions: { 0: 9, 1: 8 } } });
      await done;
      raw.terminate();
      assert.deepEqual(replies.map((r) => [r.id, r.type]), [
        [1, "result"], [2, "result"], [3, "result"], [4, "result"],
      ]);
      assert.equal(replies[0].payload.load.kind, mode);
      assert.deepEqual(replies[3].payload.observation, { 0: [1, 9], 1: [1, 8] });
    });

    test("an operation Python does not answer is refused by name; call() takes any name", async () => {
      const { worker } = await startWorker({}, mode);
      try {
        await assert.rejects(worker.call("fly"), (/** @type {any} */ error) => {
          assert.equal(error.name, "OperationError");
          assert.match(error.message, /unknown operation 'fly'; expected one of \[.*'initEnv'/);
          return true;
        });
        await assert.rejects(worker.call("init"), /use init\(\) instead/);
        await assert.rejects(worker.call("no such"), /not an operation name/);
        await worker.call("initEnv", { code: ECHO_ENV });
        const reset = await worker.call("reset", { seed: 4 });
        assert.deepEqual(reset.observation[0], [4, null]);
        assert.equal(typeof reset.timing.roundTripMs, "number");
      } finally {
        worker.destroy();
      }
    });

    test("the runtime package is importable in the worker as interactive_gym.runtime", async () => {
      const { worker } = await startWorker({}, mode);
      try {
        await worker.initEnv({
          code: "import interactive_gym.runtime as rt\nclass E:\n    def reset(self, seed=None, options=None):\n        return list(rt.FILES), {}\n    def step(self, a):\n        return 0, 0.0, False, False, {}\nenv = E()\n",
        });
        const { observation } = await worker.reset({});
        assert.ok(observation.includes("handler.py") && observation.includes("game_host.py"), String(observation));
      } finally {
        worker.destroy();
      }
    });

    test("JavaScript null arrives in Python as None, nested too", async () => {
      const { worker } = await startWorker({}, mode);
      try {
        await worker.initEnv({
          code: `
class Env:
    def __init__(self, limit):
        assert limit is None, f"config null arrived as {limit!r}"
    def reset(self, seed=None, options=None):
        assert seed is None and options["a"] is None and options["b"] == [None], (seed, options)
        return 0, {}
    def step(self, action):
        assert action == {"x": None}, action
        return 0, 0.0, False, False, {}
def make_env(limit):
    return Env(limit)
`,
          config: { limit: null },
        });
        await worker.reset({ seed: null, options: { a: null, b: [null] } });
        await worker.step({ x: null });
      } finally {
        worker.destroy();
      }
    });

    test("env code with neither env nor make_env is refused clearly", async () => {
      const { worker } = await startWorker({}, mode);
      try {
        await assert.rejects(worker.initEnv({ code: "x = 1" }), /defines neither `env` nor `make_env/);
        await assert.rejects(worker.initEnv({ code: "def broken(:\n" }), (/** @type {any} */ e) => e.name === "SyntaxError");
        await assert.rejects(worker.step({}), /no environment yet: call initEnv first/);
        await worker.initEnv({ code: ECHO_ENV });
        await worker.reset({});
      } finally {
        worker.destroy();
      }
    });

    test("without cross-origin isolation a runaway step terminates the worker and says so", async () => {
      /** @type {any} */ const scope = globalThis;
      scope.crossOriginIsolated = false;
      const crashes = [];
      let worker;
      try {
        ({ worker } = await startWorker({ onCrash: (/** @type {any} */ e) => crashes.push(e) }, mode));
      } finally {
        delete scope.crossOriginIsolated;
      }
      assert.equal(worker.canInterrupt, false);
      await worker.initEnv({ code: ECHO_ENV });
      await worker.reset({});
      await assert.rejects(worker.step({ 0: "spin", 1: 0 }, { timeoutMs: 300 }), /not cross-origin isolated/);
      assert.equal(crashes.length, 1);
      await assert.rejects(worker.reset({}), /crashed/);
      worker.destroy();
    });
  });

  describe(`extensions (${mode})`, () => {
    test("an extension's prepare runs before every later request; its Python operations answer", async () => {
      const { worker } = await startWorker({}, mode);
      try {
        await worker.initEnv({ code: WRITE_MODULES + ECHO_ENV, globals: { MODULES } });
        const loaded = await worker.loadExtension({
          module: new URL("echo_extension.mjs", SUPPORT).href,
          python: "echo_ops",
        });
        assert.deepEqual(loaded.operations, ["echo"]);
        const reply = await worker.call("echo", { said: "hi" });
        assert.deepEqual({ ...reply }, { said: "hi", prepared: "echo", calledPython: { t: 0 } });
        const step = await worker.step({ 0: 1, 1: 2 });
        assert.equal(step.info.t, 1, "requests that the extension leaves alone are unchanged");
        await assert.rejects(worker.loadExtension({ python: "no_such_module" }), (/** @type {any} */ error) => {
          assert.equal(error.name, "ModuleNotFoundError");
          return true;
        });
        await assert.rejects(worker.loadExtension({}), /at least one/);
        await assert.rejects(
          worker.loadExtension({ module: new URL("hanging_pyodide.mjs", SUPPORT).href }),
          /exports no prepare/,
        );
        assert.equal((await worker.call("echo", { said: "again" })).said, "again", "the worker goes on");
      } finally {
        worker.destroy();
      }
    });

    test("a Python module that reuses an operation name is refused", async () => {
      const { worker } = await startWorker({}, mode);
      try {
        await worker.initEnv({ code: WRITE_MODULES + ECHO_ENV, globals: { MODULES } });
        await assert.rejects(worker.loadExtension({ python: "steals_step" }), /operations already registered: \['step'\]/);
      } finally {
        worker.destroy();
      }
    });
  });
}

describe("worker edge cases", () => {
  test("calls before init and after destroy reject with a clear error", async () => {
    const worker = new PyodideWorker({
      createWorker: (url) => createNodeWorker(url),
      runtime: nodeRuntime(),
    });
    await assert.rejects(worker.step({}), /call and await init\(\) first/);
    const starting = worker.init();
    await assert.rejects(worker.reset({}), /init\(\) has not finished yet/);
    await starting;
    worker.destroy();
    await assert.rejects(worker.reset({}), /destroyed/);
  });

  test("malformed messages get an error reply, not silence", async () => {
    const raw = createNodeWorker();
    const replies = [];
    const done = /** @type {Promise<void>} */ (new Promise((resolve) => {
      raw.onmessage = ({ data }) => {
        replies.push(data);
        if (replies.length === 3) resolve();
      };
    }));
    raw.postMessage({ nonsense: true });
    raw.postMessage("just a string");
    raw.postMessage({ type: "fly away", id: 5 });
    await done;
    raw.terminate();
    assert.ok(replies.every((r) => r.type === "error"));
    assert.match(replies[0].payload.message, /malformed message/);
    assert.match(replies[2].payload.message, /invalid request type "fly away"/);
    assert.equal(replies[2].id, 5);
  });

  test("init fails clearly when a runtime file cannot be fetched", async () => {
    const { runtimeSources: _omit, ...rest } = nodeRuntime();
    const worker = new PyodideWorker({
      createWorker: (url) => createNodeWorker(url),
      runtime: { ...rest, runtimeBaseURL: "http://127.0.0.1:9/runtime/", runtimeFiles: ["__init__.py"] },
    });
    await assert.rejects(worker.init(), /could not load the runtime file http:\/\/127.0.0.1:9\/runtime\/__init__.py/);
    worker.destroy();
  });

  test("a loadPyodide that never settles is caught by the init timeout", async () => {
    const crashes = [];
    const worker = new PyodideWorker({
      createWorker: (url) => createNodeWorker(url),
      runtime: nodeRuntime({
        pyodideModuleURL: pathToFileURL(new URL("./support/hanging_pyodide.mjs", import.meta.url).pathname).href,
      }),
      initTimeoutMs: 400,
      onCrash: (/** @type {any} */ e) => crashes.push(e),
    });
    await assert.rejects(worker.init(), (/** @type {any} */ e) => e.name === "TimeoutError" && /loadPyodide/.test(e.message));
    assert.equal(crashes.length, 1);
    await assert.rejects(worker.reset({}), /crashed/);
    worker.destroy();
  });

  test("a worker script that fails to load crashes every pending request and fires onCrash", async () => {
    const crashes = [];
    const worker = new PyodideWorker({
      createWorker: () => createNodeWorker(new URL("./support/does_not_exist.mjs", import.meta.url)),
      runtime: nodeRuntime(),
      onCrash: (/** @type {any} */ e) => crashes.push(e),
    });
    await assert.rejects(worker.init(), (/** @type {any} */ e) => e.name === "CrashError");
    assert.equal(crashes.length, 1);
    worker.destroy();
  });
});
