// The game scene's worker side (the game extension: runtime/game_host.py and
// worker/game_hooks.js, loaded into the generic worker): AI policies, HUD text and the step in
// one reply per tick, checked with real Pyodide in a worker_thread.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { PyodideWorker } from "../../interactive_gym/server/static/js/PyodideWorker.js";
import { GAME_EXTENSION, createNodeWorker, nodeRuntime } from "./support/node_worker.mjs";

const DUO_ENV = `
class Duo:
    possible_agents = [0, 1]
    num_actions = 4

    def reset(self, seed=None, options=None):
        self.t = 0
        self.total = 0
        self.seen = []
        return {0: [0, seed], 1: [1, seed]}, {}

    def step(self, actions):
        if actions.get(0) == 3 and getattr(self, "explode", False):
            raise ZeroDivisionError("the env divided by zero")
        self.t += 1
        self.seen.append(dict(actions))
        self.total += actions[0]
        obs = {0: [0, self.t], 1: [1, self.t]}
        rewards = {0: float(actions[0]), 1: 0.5}
        done = self.t >= 50
        return obs, rewards, {0: False, 1: False, "__all__": False}, {"__all__": done}, {"t": self.t}

    def render(self):
        if getattr(self, "garbage", False):
            return object()
        return [{"type": "circle", "id": "c", "x": 0.5, "y": 0.5, "radius": 0.1}]

    render_size = (320, 200)


def hud(env):
    return f"t={env.t} total={env.total}"


def make_env(**config):
    env = Duo()
    for k, v in config.items():
        setattr(env, k, v)
    return env
`;

const SOLO_ENV = `
class Solo:
    def reset(self, seed=None, options=None):
        self.t = 0
        return 0.0, {"seed": seed}

    def step(self, action):
        self.t += 1
        return float(self.t), float("nan") if action == 1 else 1.0, self.t >= 3, False, {}

env = Solo()
`;

const PARTNER = `
def policy(observation, agent_id, bias=0):
    # the partner sees its own observation: [its id, t]
    assert observation[0] == agent_id, (observation, agent_id)
    return (observation[1] + bias) % 4

def broken(observation, agent_id):
    raise KeyError("no plan")
`;

async function startWorker() {
  const worker = new PyodideWorker({ createWorker: (url) => createNodeWorker(url), runtime: nodeRuntime(), timeoutMs: 10000 });
  await worker.init();
  const { operations } = await worker.loadExtension(GAME_EXTENSION);
  assert.deepEqual(operations, ["onnxObservations", "setupGame", "startEpisode", "tick"]);
  return worker;
}

/** @param {PyodideWorker} worker  @param {Record<string, any>} spec */
function setup(worker, spec) {
  return worker.call("setupGame", spec);
}

describe("a two-agent game with a Python partner", () => {
  /** @type {PyodideWorker} */ let worker;
  before(async () => {
    worker = await startWorker();
    await worker.initEnv({ code: DUO_ENV, config: {} });
  });
  after(() => worker.destroy());

  test("setupGame describes the game", async () => {
    const game = await setup(worker, {
      agents: { 0: { kind: "human" }, 1: { kind: "python", code: PARTNER, filename: "partner.py", function: "policy", config: { bias: 1 } } },
      hud_function: "hud",
      max_steps: 5,
      actions_used: { 'controls["ArrowUp"]': 3, default_action: 0 },
    });
    assert.deepEqual({ ...game }, { multiAgent: true, agents: ["0", "1"], numActions: 4, renderSize: [320, 200], hasRender: true });
  });

  test("a tick steps with the human's and the policy's actions and returns render and HUD", async () => {
    const start = await worker.call("startEpisode", { seed: 9 });
    assert.equal(start.hud, "t=0 total=0");
    assert.equal(start.render.length, 1);
    assert.ok(!("observation" in start), "observations are sent only when recorded");
    const reply = await worker.call("tick", { actions: { 0: 2 } });
    assert.equal(reply.step, 0);
    assert.deepEqual(reply.actions, { 0: 2, 1: 2 }); // the partner saw [1, seed 9]: (9 + 1) % 4
    assert.deepEqual(reply.reward, { 0: 2, 1: 0.5 });
    assert.equal(reply.terminated, false);
    assert.equal(reply.truncated, false);
    assert.equal(reply.done, false);
    assert.deepEqual(reply.info, { t: 1 });
    assert.equal(reply.hud, "t=1 total=2");
    assert.equal(reply.render[0].id, "c");
    assert.equal(typeof reply.policyMs, "number");
    assert.equal(typeof reply.timing.envMs, "number");
  });

  test("max_steps ends the episode as truncated; another tick is refused", async () => {
    await worker.call("startEpisode", { seed: 1 });
    const replies = [];
    for (let i = 0; i < 5; i++) replies.push(await worker.call("tick", { actions: { 0: 1 } }));
    assert.deepEqual(replies.map((r) => r.done), [false, false, false, false, true]);
    assert.equal(replies[4].truncated, true);
    assert.equal(replies[4].maxStepsReached, true);
    assert.deepEqual(replies.map((r) => r.actions[1]), [2, 2, 3, 0, 1]); // (seed 1, then t) + 1
    await assert.rejects(worker.call("tick", { actions: { 0: 1 } }), /the episode is over/);
  });

  test("options left as null (no max_steps, no num_actions) mean none", async () => {
    await setup(worker, {
      agents: { 0: { kind: "human" }, 1: { kind: "python", code: PARTNER, filename: "partner.py", function: "policy", config: null } },
      hud_function: null,
      max_steps: null,
      num_actions: null,
    });
    await worker.call("startEpisode", { seed: 1, options: null });
    for (let i = 0; i < 6; i++) {
      const reply = await worker.call("tick", { actions: { 0: 1 } });
      assert.equal(reply.maxStepsReached, false);
    }
  });

  test("random actions are in range and the same for the same episode seed", async () => {
    await setup(worker, { agents: { 0: { kind: "random" }, 1: { kind: "random" } }, record_observations: true });
    const run = async (seed) => {
      const start = await worker.call("startEpisode", { seed });
      assert.deepEqual(start.observation, { 0: [0, seed], 1: [1, seed] });
      const actions = [];
      for (let i = 0; i < 20; i++) {
        const r = await worker.call("tick", { actions: {} });
        actions.push([r.actions[0], r.actions[1]]);
        assert.deepEqual(r.observation, { 0: [0, i + 1], 1: [1, i + 1] });
      }
      return actions;
    };
    const a = await run(5);
    const b = await run(5);
    assert.deepEqual(a, b);
    assert.ok(a.flat().every((x) => Number.isInteger(x) && x >= 0 && x < 4));
    assert.ok(new Set(a.flat()).size > 1);
  });

  test("a tick without the human's action is refused", async () => {
    await setup(worker, { agents: { 0: { kind: "human" }, 1: { kind: "random" } } });
    await worker.call("startEpisode", { seed: 1 });
    await assert.rejects(worker.call("tick", { actions: {} }), /no action for the human agent '0'/);
  });
});

describe("random agents and failing policies", () => {
  /** @type {PyodideWorker} */ let worker;
  before(async () => {
    worker = await startWorker();
    await worker.initEnv({ code: DUO_ENV, config: { explode: true } });
  });
  after(() => worker.destroy());

  test("an exception in the env's step rejects with its type and traceback", async () => {
    await setup(worker, { agents: { 0: { kind: "human" }, 1: { kind: "random" } } });
    await worker.call("startEpisode", { seed: 0 });
    await assert.rejects(worker.call("tick", { actions: { 0: 3 } }), (/** @type {any} */ error) => {
      assert.equal(error.name, "ZeroDivisionError");
      assert.match(error.traceback, /the env divided by zero/);
      return true;
    });
  });

  test("a policy that raises is named with its agent", async () => {
    await setup(worker, {
      agents: { 0: { kind: "human" }, 1: { kind: "python", code: PARTNER, filename: "partner.py", function: "broken" } },
    });
    await worker.call("startEpisode", { seed: 0 });
    await assert.rejects(worker.call("tick", { actions: { 0: 0 } }), (/** @type {any} */ error) => {
      assert.equal(error.name, "PolicyError");
      assert.match(error.message, /policy of agent '1' raised KeyError/);
      return true;
    });
  });

  test("setupGame names what does not fit the environment", async () => {
    const python = (code, fn = "policy") => ({ kind: "python", code, filename: "p.py", function: fn });
    const cases = [
      [{ agents: { 0: { kind: "human" }, 7: { kind: "random" } } }, /agents\['7'\]: the environment has no agent '7'/],
      [{ agents: { 0: { kind: "human" } } }, /the environment's agent '1' has no entry/],
      [{ agents: { 0: { kind: "human" }, 1: { kind: "robot" } } }, /agents\['1'\]: unknown kind 'robot'/],
      [{ agents: { 0: { kind: "human" }, 1: { kind: "random" } }, actions_used: { 'controls["x"]': 4 } }, /controls\["x"\] is action 4, but the environment has 4 actions \(0 to 3\)/],
      [{ agents: { 0: { kind: "human" }, 1: python("def policy(:") }, }, /policy file p.py failed to load: SyntaxError/],
      [{ agents: { 0: { kind: "human" }, 1: python(PARTNER, "plan") } }, /p.py defines no function plan\(\)/],
      [{ agents: { 0: { kind: "human" }, 1: { kind: "random" } }, hud_function: "nope" }, /hud_function: .* no function nope\(env\)/],
    ];
    for (const [spec, pattern] of cases) await assert.rejects(setup(worker, spec), pattern);
  });
});

describe("a single-agent game", () => {
  /** @type {PyodideWorker} */ let worker;
  before(async () => {
    worker = await startWorker();
    await worker.initEnv({ code: SOLO_ENV });
  });
  after(() => worker.destroy());

  test("takes a plain action, ends on terminated, and needs exactly one agent", async () => {
    await assert.rejects(setup(worker, { agents: { a: { kind: "human" }, b: { kind: "human" } } }), /single-agent .* lists 2 agents/);
    const game = await setup(worker, { agents: { player: { kind: "human" } } });
    assert.equal(game.multiAgent, false);
    assert.equal(game.numActions, null);
    assert.equal(game.hasRender, false);
    const start = await worker.call("startEpisode", { seed: 3 });
    assert.equal(start.render, null);
    assert.equal(start.hud, null);
    const replies = [];
    for (let i = 0; i < 3; i++) replies.push(await worker.call("tick", { actions: { player: i === 1 ? 1 : 0 } }));
    assert.deepEqual(replies.map((r) => r.actions), [{ player: 0 }, { player: 1 }, { player: 0 }]);
    assert.ok(Number.isNaN(replies[1].reward), "a NaN reward arrives as NaN (the page makes it JSON-safe)");
    assert.deepEqual(replies.map((r) => [r.terminated, r.done]), [[false, false], [false, false], [true, true]]);
    await assert.rejects(setup(worker, { agents: { player: { kind: "random" } } }).then(() => worker.call("startEpisode", { seed: 1 })).then(() => worker.call("tick", { actions: {} })), /number of actions is unknown/);
  });
});

describe("the game extension", () => {
  test("loads once; before it the game's operations are unknown", async () => {
    const worker = new PyodideWorker({ createWorker: (url) => createNodeWorker(url), runtime: nodeRuntime(), timeoutMs: 10000 });
    try {
      await worker.init();
      await worker.initEnv({ code: SOLO_ENV });
      await assert.rejects(worker.call("setupGame", { agents: { player: { kind: "human" } } }), /unknown operation 'setupGame'/);
      assert.equal((await worker.loadExtension(GAME_EXTENSION)).operations.length, 4);
      assert.deepEqual((await worker.loadExtension(GAME_EXTENSION)).operations, [], "a second load does nothing");
      const game = await worker.call("setupGame", { agents: { player: { kind: "human" } } });
      assert.equal(game.multiAgent, false);
    } finally {
      worker.destroy();
    }
  });
});
