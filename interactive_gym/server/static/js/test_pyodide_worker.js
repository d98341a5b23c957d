// @ts-check
// The verification page's checks of the worker API (test_pyodide_worker.html, Run Test).
import { PyodideWorker } from "./PyodideWorker.js";

const ENV = `
class CounterEnv:
    """Two agents with int ids; each step adds the actions to a counter."""
    possible_agents = [0, 1]

    def reset(self, seed=None, options=None):
        self.total = seed or 0
        return {0: self.total, 1: self.total}, {"seed": seed}

    def step(self, actions):
        assert all(type(k) is int for k in actions), f"agent ids arrived as {list(actions)}"
        if actions[0] == -1:
            raise ValueError("negative action")
        if actions[0] == -2:
            while True:
                pass
        self.total += actions[0] + actions[1]
        obs = {0: self.total, 1: (self.total, None)}
        return obs, {0: 1.0, 1: 0.5}, False, False, {"total": self.total}

    def render(self):
        return [{"id": "bar", "type": "rect", "x": 0.1, "y": 0.1, "w": self.total / 100, "h": 0.1}]

    def get_state(self):
        return {"total": self.total}

    def set_state(self, state):
        self.total = state["total"]

env = CounterEnv()
`;

/** @param {string} id */
const element = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** `?snapshots=1`: start Python from a memory snapshot kept in this browser (made on the first run). */
const snapshots = new URLSearchParams(location.search).get("snapshots") === "1";

const log = element("log");
const results = {
  done: false,
  passed: 0,
  failed: 0,
  pings: 0,
  snapshots,
  /**
   * How Python started (`init`'s `load`) and, with snapshots, whether the snapshot taken was stored.
   * @type {import("./PyodideWorker.js").LoadReport | null}
   */
  load: null,
  /** @type {import("./PyodideWorker.js").SnapshotSaved | null} */
  snapshotSaved: null,
  /** @type {{name: string, ok: boolean, detail: string}[]} */
  checks: [],
};
Object.assign(window, { testResults: results });
element("isolation").textContent = window.crossOriginIsolated
  ? "(cross-origin isolated: runaway steps can be interrupted)"
  : "(not cross-origin isolated: runaway steps end the worker)";
element("snapshots").textContent = snapshots ? "on" : "off";
const other = /** @type {HTMLAnchorElement} */ (element("toggle-snapshots"));
other.href = snapshots ? "?" : "?snapshots=1";
other.textContent = snapshots ? "run without snapshots" : "run with snapshots";

/** @param {string} text  @param {string} [cls] */
function line(text, cls) {
  const row = document.createElement("div");
  row.textContent = text;
  if (cls) row.className = cls;
  log.appendChild(row);
}

/** @param {string} name  @param {boolean} ok  @param {string} [detail] */
function check(name, ok, detail = "") {
  results.checks.push({ name, ok, detail });
  ok ? results.passed++ : results.failed++;
  line(`${ok ? "PASS" : "FAIL"} ${name}${detail ? ` — ${detail}` : ""}`, ok ? "pass" : "fail");
}

/**
 * @param {string} name  @param {Promise<unknown>} promise
 * @param {(error: any) => boolean} test
 */
async function expectError(name, promise, test) {
  try {
    await promise;
    check(name, false, "no error was raised");
  } catch (error) {
    const e = /** @type {Error} */ (error);
    check(name, test(e), `${e.name}: ${e.message}`);
  }
}

async function runTest() {
  /** @type {HTMLButtonElement} */ (element("run")).disabled = true;
  const start = performance.now();
  let lastPing = start;
  let maxGap = 0;
  const pinger = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - lastPing);
    lastPing = now;
    results.pings++;
    line(`ping ${results.pings} at ${((now - start) / 1000).toFixed(1)} s`, "ping");
  }, 500);

  /** @type {string[]} */
  const stages = [];
  const worker = new PyodideWorker({
    timeoutMs: 5000,
    onProgress: (p) => {
      stages.push(p.stage);
      line(`progress: ${p.message}`, "progress");
    },
  });
  try {
    const { pythonVersion, load } = await worker.init({ snapshots });
    results.load = load;
    check("init resolves at READY", worker.ready, `Python ${pythonVersion}`);
    line(`Python ${load.kind === "restore" ? "restored from a snapshot" : "booted"} in ${load.ms.toFixed(0)} ms ` +
      `(snapshot: ${load.snapshot}${load.problem ? `, ${load.problem}` : ""})`);
    if (load.kind === "restore") {
      check("progress reports restoring Python from its snapshot, not booting it",
        stages.includes("restoring") && !stages.includes("python") && stages.at(-1) === "ready",
        stages.join(" → "));
    } else {
      check("progress reports loading Pyodide and the package installer",
        stages.includes("python") && stages.includes("installer") && stages.at(-1) === "ready",
        stages.join(" → "));
    }
    const expected = snapshots ? ["made", "restored"] : ["off"];
    check("the load report says what happened to the snapshot",
      expected.includes(load.snapshot) && !load.problem && (load.kind === "restore") === (load.snapshot === "restored"),
      JSON.stringify(load));

    await worker.initEnv({ code: ENV });
    const reset = await worker.reset({ seed: 10 });
    check("reset returns the observation", reset.observation[0] === 10 && reset.info.seed === 10,
      JSON.stringify(reset));

    const step = await worker.step({ 0: 2, 1: 3 }, { render: true });
    check("step with int agent keys returns reward and observation",
      step.observation[0] === 15 && step.reward[1] === 0.5 && step.observation[1][1] === null,
      JSON.stringify(step.observation));
    check("render output arrives with the step", step.render?.[0]?.w === 0.15,
      JSON.stringify(step.render));
    check("each result carries its timing", step.timing.roundTripMs >= step.timing.workerMs,
      `round trip ${step.timing.roundTripMs.toFixed(2)} ms, in worker ${step.timing.workerMs.toFixed(2)} ms`);

    await expectError("a Python error arrives with its type and message",
      worker.step({ 0: -1, 1: 0 }),
      (e) => e.name === "ValueError" && e.message === "negative action" && /Traceback/.test(e.traceback));

    const state = await worker.getState();
    const rolled = await worker.batch([
      { op: "step", args: { 0: 1, 1: 1 } },
      { op: "setState", args: state },
      { op: "step", args: { 0: 1, 1: 1 } },
      { op: "getState" },
    ]);
    check("batch: setState + step + getState in one round trip",
      rolled[0].info.total === 17 && rolled[2].info.total === 17 && rolled[3].total === 17,
      JSON.stringify(rolled[3]));

    if (window.crossOriginIsolated) {
      await expectError("a runaway step is interrupted at its timeout",
        worker.step({ 0: -2, 1: 0 }, { timeoutMs: 500 }), (e) => e.name === "TimeoutError");
      const after = await worker.step({ 0: 1, 1: 0 });
      check("the worker and its env survive the interrupt", after.info.total === 18,
        `total ${after.info.total}`);
    }

    const { operations } = await worker.loadExtension({
      module: new URL("./worker/game_hooks.js", import.meta.url).href,
      python: "interactive_gym.runtime.game_host",
    });
    check("an extension adds its operations", operations.includes("tick"), operations.join(", "));
    await worker.call("setupGame", { agents: { 0: { kind: "human" }, 1: { kind: "random" } }, num_actions: 3 });
    await worker.call("startEpisode", { seed: 5 });
    const tick = await worker.call("tick", { actions: { 0: 2 } });
    check("call() runs an extension's operation (a game tick)",
      tick.actions[0] === 2 && tick.info.total === 7 + tick.actions[1] && tick.render?.[0]?.id === "bar",
      JSON.stringify({ actions: tick.actions, info: tick.info }));

    // A snapshot taken at boot is stored in the background, while the checks above ran.
    results.snapshotSaved = await worker.snapshotSaved;
    if (load.snapshot === "made") {
      check("the snapshot taken at boot is stored in this browser", results.snapshotSaved.stored === true,
        JSON.stringify(results.snapshotSaved));
    }

    // The page must have stayed responsive throughout: keep listening until five pings.
    while (results.pings < 5) await new Promise((r) => setTimeout(r, 100));
    check(`Non-blocking verified: ${results.pings} pings`, maxGap < 1000,
      `longest gap between pings ${maxGap.toFixed(0)} ms`);
  } catch (error) {
    const e = /** @type {Error} */ (error);
    check("the test ran without an unexpected error", false, `${e.name}: ${e.message}`);
  } finally {
    clearInterval(pinger);
    worker.destroy();
    results.done = true;
    const summary = element("summary");
    summary.textContent = `${results.failed === 0 ? "All tests passed" : "Some tests failed"}: ` +
      `${results.passed} passed, ${results.failed} failed, ${results.pings} pings`;
    summary.className = results.failed === 0 ? "pass" : "fail";
  }
}

element("run").addEventListener("click", runTest);
