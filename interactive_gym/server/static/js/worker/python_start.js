// @ts-check
/**
 * Starting the worker's Python: restore it from a memory snapshot stored for exactly this
 * configuration (`python_snapshot.js`), or boot Pyodide, unpack micropip, install the scene's
 * packages and import the runtime package, then (snapshots on) snapshot it for the next load.
 *
 * A snapshot that is missing, altered, of another configuration or that fails to restore
 * means a boot, never an error: the load report says which it was and why
 * (`{kind: "boot" | "restore", snapshot, problem?}`). Used by `pyodide_worker.js` for `init`.
 */

import {
  SnapshotStore, collectFiles, deserializerFor, serializerFor, sha256, snapshotKey, writeFiles,
} from "./python_snapshot.js";
import { TOP_DIR, runtimeSources, writeRuntimePackage } from "./runtime_package.js";

/**
 * What happened to the snapshot on this load:
 * - `off`: not asked for; `unavailable`: this browser has no Cache API;
 * - `restored`: Python came from a stored snapshot;
 * - `made`: Python booted and a snapshot was taken (`PyodideWorker#snapshotSaved` says
 *   whether it was stored); `failed`: it booted, but no snapshot could be taken (`problem`).
 * @typedef {"off" | "unavailable" | "restored" | "made" | "failed"} SnapshotStatus
 * @typedef {{kind: "boot" | "restore", ms: number, snapshot: SnapshotStatus, problem?: string}} LoadReport
 * @typedef {(stage: string, message: string, fraction: number) => void} Progress
 * @typedef {<T>(promise: Promise<T>, what: string) => Promise<T>} Timed
 * @typedef {{pyodide: any, load: LoadReport, save: (() => Promise<number>) | null}} Started
 */

/** Where micropip and the scene's packages are installed (kept beside a snapshot). */
const SITE_PACKAGES_SOURCE = "import sysconfig\nsysconfig.get_path('purelib')";

/**
 * Restore or boot Python for `config` (the runtime configuration `PyodideWorker#init` sends).
 * @param {any} config
 * @param {Promise<{loadPyodide: (options: object) => Promise<any>, version: string}>} pyodideModule
 *   the Pyodide module being imported (its import overlaps the runtime package's download)
 * @param {Record<string, unknown>} options  what `loadPyodide` always gets
 * @param {Progress} progress  @param {Timed} timed
 * @returns {Promise<Started>}
 */
export async function startPython(config, pyodideModule, options, progress, timed) {
  const started = performance.now();
  const [sources, { loadPyodide, version }] = await Promise.all([
    timed(runtimeSources(config), "loading the runtime package"),
    pyodideModule,
  ]);
  const packages = /** @type {string[]} */ (config.packages ?? []);
  /** @type {SnapshotStatus | null} */
  let status = config.snapshots ? (SnapshotStore.available ? null : "unavailable") : "off";
  /** @type {string | undefined} */ let problem;
  const store = new SnapshotStore();
  /** @type {string | null} */ let key = null;
  if (status === null) {
    try {
      key = await snapshotKey(await keyParts(config, version, sources, packages));
      const restored = await restore(store, key, loadPyodide, options, progress, timed);
      if (restored) {
        return { pyodide: restored, save: null, load: { kind: "restore", ms: performance.now() - started, snapshot: "restored" } };
      }
    } catch (error) {
      problem = describe(error);
      if (key) await store.drop(key).catch(() => {});
      else status = "failed"; // no key, so no snapshot to take either
    }
  }

  progress("python", "Starting Python (WebAssembly)", 0.15);
  const pyodide = await timed(
    loadPyodide({ ...options, ...(key ? { _makeSnapshot: true } : {}) }),
    "loadPyodide (check that .wasm is served as application/wasm and .mjs as JavaScript)",
  );
  if (config.micropipURL) {
    progress("installer", "Loading the package installer (micropip)", 0.7);
    await timed(unpackWheel(pyodide, config.micropipURL), "loading micropip");
  }
  if (packages.length) {
    progress("packages", `Installing ${packages.join(", ")}`, 0.8);
    await timed(installPackages(pyodide, packages, config.wheelIndexURL ?? null), `installing ${packages.join(", ")}`);
  }
  progress("runtime-module", "Loading the Interactive Gym runtime", 0.9);
  writeRuntimePackage(pyodide, sources);
  importRuntime(pyodide, sources);

  /** @type {(() => Promise<number>) | null} */ let save = null;
  if (key) {
    try {
      const memory = await takeSnapshot(pyodide);
      const files = collectFiles(pyodide, [TOP_DIR, pyodide.runPython(SITE_PACKAGES_SOURCE)]);
      const snapshotKey = key;
      save = () => store.write(snapshotKey, { memory, files });
      status = "made";
    } catch (error) {
      problem = [problem, `no snapshot was taken: ${describe(error)}`].filter(Boolean).join("; ");
      status = "failed";
    }
  }
  /** @type {LoadReport} */
  const load = { kind: "boot", ms: performance.now() - started, snapshot: /** @type {SnapshotStatus} */ (status) };
  if (problem) load.problem = problem;
  return { pyodide, load, save };
}

/**
 * Pyodide's memory snapshot. Two things Python holds are let go of first: the last JavaScript
 * values it awaited (micropip's downloads; awaiting a settled promise replaces them), and what
 * micropip recorded in Pyodide's `loadedPackages`, which a snapshot must find empty; that is
 * put back at once (a restored Python finds its packages by their files, stored beside).
 * @param {any} pyodide
 * @returns {Promise<Uint8Array>}
 */
async function takeSnapshot(pyodide) {
  await pyodide.runPythonAsync("import js as _js\nawait _js.Promise.resolve(None)\ndel _js");
  const loaded = pyodide.loadedPackages;
  const kept = { ...loaded };
  for (const name of Object.keys(kept)) delete loaded[name];
  try {
    return pyodide.makeMemorySnapshot({ serializer: serializerFor(pyodide) });
  } finally {
    Object.assign(loaded, kept);
  }
}

/**
 * Restore the snapshot stored under `key`; null when there is none. Reading and checking it
 * overlaps Pyodide's own loading, which waits for the memory only when it needs it (a check
 * that fails makes `loadPyodide` fail before anything ran).
 * @param {SnapshotStore} store  @param {string} key
 * @param {(options: object) => Promise<any>} loadPyodide  @param {Record<string, unknown>} options
 * @param {Progress} progress  @param {Timed} timed
 */
async function restore(store, key, loadPyodide, options, progress, timed) {
  const entry = await store.find(key);
  if (!entry) return null;
  progress("restoring", "Restoring Python", 0.3);
  const reading = store.open(key, entry);
  const memory = reading.then((snapshot) => snapshot.memory);
  memory.catch(() => {}); // a check that fails before Pyodide waits for it: `await reading` reports it
  /** @type {any} */ let restored = null;
  restored = await timed(
    loadPyodide({
      ...options,
      _loadSnapshot: memory,
      _snapshotDeserializer: deserializerFor(() => restored),
    }),
    "restoring Python from its snapshot",
  );
  const stored = await reading;
  // Pyodide keeps the options it was given: let the 30-odd MB of memory image go.
  if (restored._api?.config) restored._api.config._loadSnapshot = undefined;
  progress("runtime-module", "Loading the Interactive Gym runtime", 0.9);
  writeFiles(restored, stored.files);
  // A fresh seed: the generator's state in the snapshot is the same in every browser.
  restored.runPython("import importlib, random\nimportlib.invalidate_caches()\nrandom.seed()\nfrom interactive_gym.runtime import handler");
  return restored;
}

/**
 * Everything a snapshot depends on: a change to any of these gives another key.
 * @param {any} config  @param {string} version  @param {Record<string, string>} sources  @param {string[]} packages
 */
async function keyParts(config, version, sources, packages) {
  let lockFile = null;
  if (config.lockFileURL) {
    const response = await fetch(config.lockFileURL);
    if (!response.ok) throw new Error(`could not read the lock file ${config.lockFileURL}: HTTP ${response.status}`);
    lockFile = await sha256(await response.text());
  }
  const runtime = await sha256(JSON.stringify(Object.entries(sources).sort(([a], [b]) => (a < b ? -1 : 1))));
  return {
    pyodide: version,
    lockFile,
    runtime,
    micropip: config.micropipURL ?? null,
    wheelhouse: config.wheelhouseDigest ?? null,
    wheelIndex: config.wheelIndexURL ?? null,
    packages: [...packages].sort(),
  };
}

/** Import every module of the runtime package, so a snapshot holds them imported. @param {any} pyodide  @param {Record<string, string>} sources */
function importRuntime(pyodide, sources) {
  const modules = Object.keys(sources).filter((f) => f !== "__init__.py").map((f) => f.slice(0, -3));
  pyodide.runPython(`import importlib\nfor _name in ${JSON.stringify(modules)}:\n    importlib.import_module("interactive_gym.runtime." + _name)\ndel _name`);
}

/**
 * Unpack a wheel (micropip) into site-packages. Not `loadPackage`, which records the package
 * in a JavaScript object Python holds, and which a memory snapshot cannot keep.
 * @param {any} pyodide  @param {string} url
 */
async function unpackWheel(pyodide, url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`could not load ${url}: HTTP ${response.status}`);
  const extractDir = pyodide.runPython(SITE_PACKAGES_SOURCE);
  pyodide.unpackArchive(new Uint8Array(await response.arrayBuffer()), "wheel", { extractDir });
  pyodide.runPython("import importlib\nimportlib.invalidate_caches()");
}

const INSTALL_SOURCE = `
async def _ig_install(packages, index_url):
    import micropip
    kwargs = {"index_urls": [index_url]} if index_url else {}
    await micropip.install(list(packages), **kwargs)
_ig_install
`;

/**
 * Install pure-Python packages with micropip from the server's wheelhouse.
 * @param {any} pyodide  @param {string[]} packages  @param {string | null} indexURL
 */
export async function installPackages(pyodide, packages, indexURL) {
  if (!Array.isArray(packages) || packages.some((p) => typeof p !== "string")) {
    throw new TypeError("installPackages needs a list of requirement strings");
  }
  if (packages.length === 0) return;
  try {
    pyodide.pyimport("micropip").destroy();
  } catch {
    throw new Error(
      "micropip is not available: the server's wheelhouse has no micropip wheel " +
        "(run `python -m interactive_gym.wheelhouse add micropip==0.11.1`)",
    );
  }
  const install = pyodide.runPython(INSTALL_SOURCE);
  try {
    await install(packages, indexURL);
  } catch (error) {
    const e = /** @type {any} */ (error);
    const err = new Error(`could not install ${packages.join(", ")}: ${String(e?.message ?? e).trim().split("\n").pop()}`);
    err.name = e?.type ?? "InstallError";
    throw err;
  } finally {
    install.destroy();
  }
}

/** An error as "Name: message", for a load report or a `snapshot` message. @param {unknown} error */
export function describe(error) {
  const e = /** @type {any} */ (error);
  return `${e?.name ?? "Error"}: ${e?.message ?? String(error)}`;
}
